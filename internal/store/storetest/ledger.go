package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func testPatchEvents(t *testing.T, tg Target) {
	ctx := t.Context()
	s := open(t, tg)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	d1 := "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	events := []store.PatchEvent{
		{ID: "e1", Image: "reg.example/base/alpine", FromRef: "reg.example/base/alpine:3.19.1", ToRef: "reg.example/base/alpine:3.19.4",
			ToDigest: d1, Kind: store.PatchSeen, Severity: scan.Critical, CVEs: []string{"CVE-2099-1001", "CVE-2099-1002"}, Time: t0},
		{ID: "e3", Image: "reg.example/base/alpine", FromRef: "reg.example/base/alpine:3.19.1", ToRef: "reg.example/base/alpine:3.19.4",
			ToDigest: d1, Kind: store.PatchApplied, RunID: "run-1", Decision: verdict.Go, Severity: scan.Critical, Time: t0.Add(48 * time.Hour), Note: "Dockerfile:1"},
		{ID: "e2", Image: "reg.example/base/alpine", ToRef: "reg.example/base/alpine:3.19.4", ToDigest: d1, Kind: store.PatchChecked,
			RunID: "run-1", Decision: verdict.Go, Time: t0.Add(47 * time.Hour)},
		{ID: "e4", Image: "reg.example/base/debian", ToRef: "reg.example/base/debian:12.8", Kind: store.PatchException,
			Time: t0.Add(time.Hour), Note: "waiting for vendor"},
	}
	for _, e := range events {
		if err := s.RecordPatch(ctx, e); err != nil {
			t.Fatalf("record %s: %v", e.ID, err)
		}
	}
	all, err := s.PatchEvents(ctx, store.PatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PatchEvent{events[0], events[3], events[2], events[1]}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("all events, oldest first (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		f    store.PatchFilter
		ids  []string
	}{
		{"image", store.PatchFilter{Image: "reg.example/base/alpine"}, []string{"e1", "e2", "e3"}},
		{"kind", store.PatchFilter{Kind: store.PatchApplied}, []string{"e3"}},
		{"digest", store.PatchFilter{ToDigest: d1, Kind: store.PatchSeen}, []string{"e1"}},
		{"since", store.PatchFilter{Since: t0.Add(time.Hour)}, []string{"e4", "e2", "e3"}},
		{"none", store.PatchFilter{Image: "reg.example/other"}, nil},
	} {
		got, err := s.PatchEvents(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if d := cmp.Diff(tc.ids, ids); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}

	// Recording under the same id replaces; an empty id is assigned.
	e1 := events[0]
	e1.Note = "re-recorded"
	if err := s.RecordPatch(ctx, e1); err != nil {
		t.Fatal(err)
	}
	anon := store.PatchEvent{Image: "reg.example/base/alpine", ToRef: "x", Kind: store.PatchRolledBack, Time: t0.Add(72 * time.Hour)}
	if err := s.RecordPatch(ctx, anon); err != nil {
		t.Fatal(err)
	}
	got, err := s.PatchEvents(ctx, store.PatchFilter{Image: "reg.example/base/alpine"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Note != "re-recorded" || got[3].ID == "" || got[3].Kind != store.PatchRolledBack {
		t.Errorf("after replace and an anonymous event: %+v", got)
	}

	for _, bad := range []store.PatchEvent{
		{Kind: store.PatchSeen, Time: t0},
		{Image: "a", Kind: "installed", Time: t0},
		{Image: "a", Kind: store.PatchSeen},
		{Image: "a", Kind: store.PatchSeen, Time: t0, Severity: scan.Critical + 1},
	} {
		if err := s.RecordPatch(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordPatch(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testIncidents(t *testing.T, tg Target) {
	ctx := t.Context()
	s := open(t, tg)
	t0 := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	ins := []store.Incident{
		{ID: "i1", Kind: store.IncidentRollback, Namespace: "shop", Workload: "api",
			FromImage: "reg.example/shop/api:2.0@sha256:aa", ToImage: "reg.example/shop/api:1.9", Reason: "p95 above 300ms",
			StartedAt: t0, EndedAt: t0.Add(4 * time.Minute),
			Timeline: []store.IncidentEvent{{Time: t0, What: "canary at 10%"}, {Time: t0.Add(2 * time.Minute), What: "rolled back"}}},
		{ID: "i2", Kind: store.IncidentAbortedRollout, Workload: "web", FromImage: "web:2", ToImage: "web:1",
			Reason: "health", StartedAt: t0.Add(time.Hour)},
		{ID: "i3", Kind: store.IncidentRollback, Workload: "api", FromImage: "api:3", ToImage: "api:2",
			StartedAt: t0.Add(-time.Hour).In(berlin), Timeline: []store.IncidentEvent{{Time: t0.In(berlin), What: "x"}}},
	}
	for _, in := range ins {
		if err := s.PutIncident(ctx, in); err != nil {
			t.Fatalf("put %s: %v", in.ID, err)
		}
	}
	got, err := s.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Incident{ins[1], ins[0], ins[2]}
	want[0].Timeline = []store.IncidentEvent{}
	want[2].StartedAt = want[2].StartedAt.UTC()
	want[2].Timeline = []store.IncidentEvent{{Time: t0, What: "x"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("incidents, newest first (-want +got):\n%s", d)
	}
	got, err = s.Incidents(ctx, store.IncidentFilter{Workload: "api", Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "i1" {
		t.Errorf("api incidents since t0 = %+v, want i1", got)
	}
	// A growing timeline replaces the incident.
	upd := ins[1]
	upd.EndedAt = t0.Add(90 * time.Minute)
	upd.Timeline = []store.IncidentEvent{{Time: upd.EndedAt, What: "aborted"}}
	if err := s.PutIncident(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err = s.Incidents(ctx, store.IncidentFilter{Workload: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]store.Incident{upd}, got); d != "" {
		t.Errorf("after replacing (-want +got):\n%s", d)
	}
	for _, bad := range []store.Incident{
		{Kind: store.IncidentRollback, StartedAt: t0},
		{ID: "x", Kind: "outage", StartedAt: t0},
		{ID: "x", Kind: store.IncidentRollback},
	} {
		if err := s.PutIncident(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutIncident(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

// testLedgerMigration takes a database back to schema version 1 (runs only) and opens it: the
// ledger's migration must run on the existing runs and keep them.
func testLedgerMigration(t *testing.T, tg Target) {
	ctx := t.Context()
	s, err := tg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := Fixtures(t)[0]
	if err := s.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, tg, 1)
	s = open(t, tg)
	if v, err := s.SchemaVersion(ctx); err != nil || v < 2 {
		t.Fatalf("schema version after reopening: %d, %v", v, err)
	}
	if _, err := s.GetRun(ctx, r.RunID); err != nil {
		t.Errorf("run lost by the migration: %v", err)
	}
	e := store.PatchEvent{Image: "a", ToRef: "a:1", Kind: store.PatchSeen, Time: time.Unix(1, 0).UTC()}
	if err := s.RecordPatch(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIncident(ctx, store.Incident{ID: "i", Kind: store.IncidentRollback, StartedAt: e.Time}); err != nil {
		t.Fatal(err)
	}
}
