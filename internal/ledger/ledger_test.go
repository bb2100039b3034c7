package ledger

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func day(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

const (
	alpine = "reg.example/base/alpine"
	debian = "reg.example/base/debian"
	python = "reg.example/base/python"
	d1     = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2     = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	d3     = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	d4     = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
	d0     = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

func ev(kind store.PatchKind, image, to, digest string, t time.Time, sev scan.Severity) store.PatchEvent {
	return store.PatchEvent{ID: string(kind) + "-" + to, Image: image, ToRef: image + ":" + to, ToDigest: digest, Kind: kind, Time: t, Severity: sev}
}

// history: alpine 3.19.4 seen on the 1st, applied on the 3rd (48h), rolled back on the 5th;
// debian 12.8 seen on the 10th, NO-GO on the 11th, declined on the 12th; debian 12.9 seen on
// the 20th, applied on the 21st (24h), rolled back on the 30th (after the window); python
// 3.12.4 applied on the 15th, never seen.
func history() ([]store.PatchEvent, []store.Incident) {
	checked := ev(store.PatchChecked, debian, "12.8", d2, day(11), scan.High)
	checked.RunID, checked.Decision, checked.Note = "run-12.8", verdict.NoGo, "1 check failed"
	exc := ev(store.PatchException, debian, "12.8", d2, day(12), scan.High)
	exc.Note = "waits for the vendor's rebuild"
	applied := ev(store.PatchApplied, debian, "12.9", d3, day(21), scan.High)
	applied.RunID, applied.Decision = "run-12.9", verdict.Go
	events := []store.PatchEvent{
		applied, // out of order: Compute sorts
		ev(store.PatchSeen, alpine, "3.19.4", d1, day(1), scan.Critical),
		ev(store.PatchApplied, alpine, "3.19.4", d1, day(3), scan.Critical),
		ev(store.PatchSeen, debian, "12.8", d2, day(10), scan.High),
		checked, exc,
		ev(store.PatchSeen, debian, "12.9", d3, day(20), scan.High),
		ev(store.PatchApplied, python, "3.12.4", d4, day(15), scan.Medium),
	}
	incidents := []store.Incident{
		{ID: "inc-1", Kind: store.IncidentRollback, Workload: "api", FromImage: alpine + ":3.19.4@" + d1, ToImage: alpine + ":3.19.1",
			Reason: "p95 above 300ms", StartedAt: day(5)},
		{ID: "inc-2", Kind: store.IncidentRollback, Workload: "db", FromImage: debian + ":12.9", Reason: "crash loop", StartedAt: day(30)},
		{ID: "inc-3", Kind: store.IncidentAbortedRollout, Workload: "web", FromImage: python + ":3.12.4", Reason: "health", StartedAt: day(16)},
	}
	return events, incidents
}

func refs() []inventory.Ref {
	return []inventory.Ref{
		{File: "a/Dockerfile", Name: alpine, Tag: "3.19.4", Digest: d1},
		{File: "b/Dockerfile", Name: alpine, Tag: "3.19.4", Digest: d1},
		{File: "c/Dockerfile", Name: alpine, Tag: "3.19.1", Digest: d0},
		{File: "d/compose.yaml", Name: alpine, Tag: "3.19.4", Floats: true},
		{File: "e/Dockerfile", Name: python, Tag: "3.12.4", Floats: true},
		{File: "f/Dockerfile", Name: python, Tag: "3.12.4", Local: true},
	}
}

func TestCompute(t *testing.T) {
	events, incidents := history()
	week := 7 * 24 * time.Hour
	h := func(n int) report.Duration { return report.Duration(time.Duration(n) * time.Hour) }
	tests := []struct {
		name           string
		since          time.Time
		window         time.Duration
		applied, timed int
		mttp           report.Duration
		bySeverity     []Remediation
		regressions    []string
		rate           float64
		changelog      int
		adoption       []Adoption
	}{
		{"all time", time.Time{}, week, 3, 2, h(36),
			[]Remediation{{scan.Critical, 1, h(48), h(48)}, {scan.High, 1, h(24), h(24)}},
			[]string{"inc-1"}, 1.0 / 3, 5,
			[]Adoption{{alpine, alpine + ":3.19.4", d1, 3, 4}, {debian, debian + ":12.9", d3, 0, 0}, {python, python + ":3.12.4", d4, 1, 1}}},
		{"since the 4th", day(4), week, 2, 1, h(24),
			[]Remediation{{scan.High, 1, h(24), h(24)}},
			nil, 0, 4, nil},
		{"a ten-day window", time.Time{}, 10 * 24 * time.Hour, 3, 2, h(36),
			[]Remediation{{scan.Critical, 1, h(48), h(48)}, {scan.High, 1, h(24), h(24)}},
			[]string{"inc-1", "inc-2"}, 2.0 / 3, 5, nil},
	}
	for _, tc := range tests {
		in := Input{Events: events, Incidents: incidents, Since: tc.since, Now: day(31), RegressionWindow: tc.window}
		if tc.adoption != nil {
			in.Refs = refs()
		}
		r := Compute(in)
		var regs []string
		for _, g := range r.Regressions {
			regs = append(regs, g.Incident)
		}
		if r.Applied != tc.applied || r.Timed != tc.timed || r.MeanTimeToPatch != tc.mttp || r.RegressionRate != tc.rate ||
			len(r.Changelog) != tc.changelog {
			t.Errorf("%s: applied %d, timed %d, MTTP %s, rate %v, changelog %d; want %d, %d, %s, %v, %d", tc.name,
				r.Applied, r.Timed, time.Duration(r.MeanTimeToPatch), r.RegressionRate, len(r.Changelog),
				tc.applied, tc.timed, time.Duration(tc.mttp), tc.rate, tc.changelog)
		}
		if d := cmp.Diff(tc.bySeverity, r.BySeverity); d != "" {
			t.Errorf("%s: by severity (-want +got):\n%s", tc.name, d)
		}
		if d := cmp.Diff(tc.regressions, regs); d != "" {
			t.Errorf("%s: regressions (-want +got):\n%s", tc.name, d)
		}
		if tc.adoption == nil {
			tc.adoption = []Adoption{}
		}
		if d := cmp.Diff(tc.adoption, r.Adoption); d != "" {
			t.Errorf("%s: adoption (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestComputeEmpty(t *testing.T) {
	r := Compute(Input{Now: day(31), RegressionWindow: time.Hour})
	if r.Applied != 0 || r.RegressionRate != 0 || r.MeanTimeToPatch != 0 || len(r.Changelog) != 0 {
		t.Errorf("empty ledger: %+v", r)
	}
	var buf bytes.Buffer
	if err := Write(&buf, r, "text"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("Mean time to patch (first seen → applied): n/a")) {
		t.Errorf("empty ledger text:\n%s", buf.String())
	}
	if err := Write(&buf, r, "yaml"); err == nil {
		t.Error("wrote an unknown format")
	}
}

func TestGolden(t *testing.T) {
	events, incidents := history()
	r := Compute(Input{Events: events, Incidents: incidents, Refs: refs(), Now: day(31), RegressionWindow: 7 * 24 * time.Hour})
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, r, f); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "ledger."+map[string]string{"text": "txt", "json": "json", "markdown": "md"}[f])
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if d := cmp.Diff(string(want), buf.String()); d != "" {
			t.Errorf("%s differs from %s (-want +got):\n%s", f, path, d)
		}
	}
}
