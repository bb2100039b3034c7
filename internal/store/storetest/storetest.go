// Package storetest is the conformance suite every store.Store backend passes: Run it from
// the backend's tests against a real database.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqldb"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Target is one new, empty database of the backend under test.
type Target struct {
	// Open opens a Store on the database, migrating it. The suite calls it several times
	// for one database (reopening, concurrent opens) and closes every Store it opens.
	Open func(ctx context.Context) (store.Store, error)
	// Exec runs a statement on the database directly, not through a Store.
	Exec func(ctx context.Context, query string) error
	// Int runs a query returning one integer directly on the database.
	Int func(ctx context.Context, query string) (int64, error)
}

// Run runs the suite; newTarget returns a new, empty database for each test.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	tests := []struct {
		name string
		f    func(*testing.T, Target)
	}{
		{"RoundTrip", testRoundTrip},
		{"Upsert", testUpsert},
		{"NotFoundAndInvalid", testNotFoundAndInvalid},
		{"ListRuns", testListRuns},
		{"Results", testResults},
		{"Samples", testSamples},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Reopen", testReopen},
		{"Migrations", testMigrations},
		{"NewerSchemaRejected", testNewerSchema},
		{"ConcurrentOpens", testConcurrentOpens},
		{"PatchEvents", testPatchEvents},
		{"Incidents", testIncidents},
		{"LedgerMigration", testLedgerMigration},
		{"TicksOnce", testTicksOnce},
		{"TickMigration", testTickMigration},
		{"Leases", testLeases},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newTarget(t)) })
	}
}

func open(t *testing.T, tg Target) store.Store {
	t.Helper()
	s, err := tg.Open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Fixtures returns the reports of internal/report's golden summary.json files (the reports
// its encoders are tested on), with their redacted run ids and times filled in.
func Fixtures(t testing.TB) []*report.Report {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "report", "testdata", "*", "summary.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no report fixtures found (%v)", err)
	}
	start := time.Date(2024, 9, 12, 8, 30, 0, 0, time.UTC)
	var out []*report.Report
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer(
			"<RUN-ID>", "fixture-"+filepath.Base(filepath.Dir(p)),
			"<STARTED>", start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339Nano),
			"<FINISHED>", start.Add(time.Duration(i)*time.Hour+47*time.Second+310*time.Millisecond).Format(time.RFC3339Nano),
		).Replace(string(b))
		var r report.Report
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, &r)
	}
	return out
}

// asJSON is the form reports are compared in: GetRun returns Data as decoded JSON values.
func asJSON(t testing.TB, r *report.Report) string {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func countResults(r *report.Report) int {
	n := 0
	for _, l := range r.Layers {
		n += len(l.Results)
	}
	return n
}

func testRoundTrip(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	fx := Fixtures(t)
	fx = append(fx, synthetic("built-in-code", "example.com/app:2", verdict.Caution, time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)))
	for _, r := range fx {
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatalf("put %s: %v", r.RunID, err)
		}
	}
	total := 0
	for _, r := range fx {
		got, err := s.GetRun(ctx, r.RunID)
		if err != nil {
			t.Fatalf("get %s: %v", r.RunID, err)
		}
		if d := cmp.Diff(asJSON(t, r), asJSON(t, got)); d != "" {
			t.Errorf("run %s changed in the store (-put +got):\n%s", r.RunID, d)
		}
		if !got.StartedAt.Equal(r.StartedAt) {
			t.Errorf("run %s: started %v, want %v", r.RunID, got.StartedAt, r.StartedAt)
		}
		rows, err := s.Results(ctx, store.ResultFilter{Image: r.New.Ref})
		if err != nil {
			t.Fatal(err)
		}
		var mine []store.ResultRow
		for _, row := range rows {
			if row.RunID == r.RunID {
				mine = append(mine, row)
			}
		}
		if len(mine) != countResults(r) {
			t.Errorf("run %s: %d result rows, want %d", r.RunID, len(mine), countResults(r))
		}
		total += countResults(r)
	}
	all, err := s.Results(ctx, store.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != total || total == 0 {
		t.Errorf("%d result rows in all, want %d (> 0)", len(all), total)
	}
}

// synthetic builds a small report of image ref with decision d, started at start.
func synthetic(id, ref string, d verdict.Decision, start time.Time) *report.Report {
	status := map[verdict.Decision]check.Status{verdict.Go: check.StatusPass, verdict.Caution: check.StatusWarn,
		verdict.NoGo: check.StatusFail, verdict.Error: check.StatusError}[d]
	return &report.Report{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "plimsoll", Version: "test"},
		RunID:         id,
		StartedAt:     start,
		FinishedAt:    start.Add(90 * time.Second),
		Old:           &report.Subject{Ref: store.Repository(ref) + ":old", Transport: "registry", Digest: "sha256:" + strings.Repeat("a", 64)},
		New:           report.Subject{Ref: ref, Transport: "registry", Digest: "sha256:" + strings.Repeat("b", 64)},
		Plan:          report.Plan{Kind: "minor", Risk: "medium", Layers: []check.Layer{check.L1Diff, check.L4Perf}, Budget: report.Duration(time.Minute)},
		Layers: []report.Layer{
			{Layer: check.L1Diff, Name: "diff", State: report.StateRan, Status: check.StatusPass, Results: []check.Result{
				{Layer: check.L1Diff, Check: "packages", Status: check.StatusPass, Message: "no change", Source: "syft"},
			}},
			{Layer: check.L4Perf, Name: "perf", State: report.StateRan, Status: status, Results: []check.Result{
				{Layer: check.L4Perf, Check: "latency", Status: status, Message: "p95 " + string(d),
					Measured: "p95 12ms", Baseline: "p95 10ms", Threshold: "+20%", Source: "load generator",
					Data: map[string]any{"p95_ms": 12.5, "samples": []any{1.0, 2.0}}},
				{Layer: check.L4Perf, Check: "rss", Status: check.StatusPass, Message: "rss 40MiB", Measured: "40MiB"},
			}},
		},
		Verdict: verdict.Verdict{Decision: d, Summary: string(d) + " for " + ref,
			Reasons: []verdict.Reason{{Layer: check.L4Perf, Check: "latency", Status: status, Message: "p95 " + string(d)}}},
	}
}

func testUpsert(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := synthetic("run-1", "example.com/app:1.1", verdict.Caution, start)
	if err := s.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(ctx, r); err != nil {
		t.Fatalf("putting the same run again: %v", err)
	}
	r2 := synthetic("run-1", "example.com/app:1.2", verdict.NoGo, start.Add(time.Minute))
	r2.Layers = r2.Layers[1:]
	r2.Layers[0].Results = r2.Layers[0].Results[:1]
	if err := s.PutRun(ctx, r2); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(asJSON(t, r2), asJSON(t, got)); d != "" {
		t.Errorf("after upsert (-want +got):\n%s", d)
	}
	runs, err := s.ListRuns(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Decision != verdict.NoGo || runs[0].NewRef != "example.com/app:1.2" || !runs[0].StartedAt.Equal(start.Add(time.Minute)) {
		t.Errorf("runs after upsert = %+v, want the one replaced run", runs)
	}
	rows, err := s.Results(ctx, store.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Check != "latency" || rows[0].Status != check.StatusFail {
		t.Errorf("result rows after upsert = %+v, want only the new run's one latency row", rows)
	}
}

func testNotFoundAndInvalid(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	if _, err := s.GetRun(ctx, "no-such-run"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun of an unknown run: %v, want ErrNotFound", err)
	}
	if err := s.PutRun(ctx, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutRun(nil): %v, want ErrInvalid", err)
	}
	r := synthetic("", "example.com/app:1", verdict.Go, time.Now())
	if err := s.PutRun(ctx, r); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("PutRun without run id: %v, want ErrInvalid", err)
	}
	if _, err := s.ListRuns(ctx, store.Filter{Limit: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListRuns with a negative limit: %v, want ErrInvalid", err)
	}
	runs, err := s.ListRuns(ctx, store.Filter{})
	if err != nil || len(runs) != 0 {
		t.Errorf("ListRuns of an empty store = %v, %v; want none", runs, err)
	}
}

func ids(runs []store.RunSummary) []string {
	out := []string{}
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func testListRuns(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	runs := []*report.Report{
		synthetic("a", "reg.example.com:5000/shop/api:1.0", verdict.Go, t0),
		synthetic("b", "reg.example.com:5000/shop/api:1.1", verdict.NoGo, t0.Add(time.Hour)),
		synthetic("c", "reg.example.com:5000/shop/web:3", verdict.Go, t0.Add(2*time.Hour)),
		synthetic("d", "reg.example.com:5000/shop/api@sha256:"+strings.Repeat("c", 64), verdict.Caution, t0.Add(3*time.Hour)),
		// Same start as d: ordered by id, descending.
		synthetic("e", "alpine:3.20", verdict.Go, t0.Add(3*time.Hour)),
	}
	runs[4].Old = nil
	for _, r := range runs {
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all newest first", store.Filter{}, []string{"e", "d", "c", "b", "a"}},
		{"limit", store.Filter{Limit: 2}, []string{"e", "d"}},
		{"decision", store.Filter{Decision: verdict.Go}, []string{"e", "c", "a"}},
		{"exact ref", store.Filter{Image: "reg.example.com:5000/shop/api:1.1"}, []string{"b"}},
		{"repository", store.Filter{Image: "reg.example.com:5000/shop/api"}, []string{"d", "b", "a"}},
		{"old image", store.Filter{Image: "reg.example.com:5000/shop/web:old"}, []string{"c"}},
		{"since", store.Filter{Since: t0.Add(2 * time.Hour)}, []string{"e", "d", "c"}},
		{"combined", store.Filter{Image: "reg.example.com:5000/shop/api", Decision: verdict.Go, Since: t0}, []string{"a"}},
		{"no match", store.Filter{Decision: verdict.Error}, []string{}},
	}
	for _, tc := range tests {
		got, err := s.ListRuns(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, ids(got)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	got, err := s.ListRuns(ctx, store.Filter{Image: "alpine:3.20"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RunSummary{{ID: "e", StartedAt: t0.Add(3 * time.Hour), FinishedAt: t0.Add(3*time.Hour + 90*time.Second),
		NewRef: "alpine:3.20", NewDigest: "sha256:" + strings.Repeat("b", 64), PlanKind: "minor",
		Decision: verdict.Go, Summary: "GO for alpine:3.20"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summary of a first deployment (-want +got):\n%s", d)
	}
}

func testResults(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, d := range []verdict.Decision{verdict.Go, verdict.Caution, verdict.NoGo} {
		r := synthetic(fmt.Sprintf("r%d", i), fmt.Sprintf("example.com/app:1.%d", i), d, t0.Add(time.Duration(i)*time.Hour))
		if err := s.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRun(ctx, synthetic("other", "example.com/other:1", verdict.NoGo, t0.Add(10*time.Hour))); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Results(ctx, store.ResultFilter{Image: "example.com/app", Layer: check.L4Perf, Check: "latency"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s L%d %s %s %s|%s|%s|%s", r.RunID, r.NewRef, r.Layer, r.Check, r.Status, r.Measured, r.Baseline, r.Threshold, r.Source))
	}
	want := []string{
		"r2 example.com/app:1.2 L4 latency fail p95 12ms|p95 10ms|+20%|load generator",
		"r1 example.com/app:1.1 L4 latency warn p95 12ms|p95 10ms|+20%|load generator",
		"r0 example.com/app:1.0 L4 latency pass p95 12ms|p95 10ms|+20%|load generator",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("latency trend (-want +got):\n%s", d)
	}
	if rows[0].Message != "p95 NO-GO" || !rows[0].StartedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("row = %+v", rows[0])
	}
	rows, err = s.Results(ctx, store.ResultFilter{Since: t0.Add(time.Hour), Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, r := range rows {
		got = append(got, r.RunID+" "+r.Check)
	}
	want = []string{"other packages", "other latency", "other rss", "r2 packages"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("newest results in report order (-want +got):\n%s", d)
	}
}

func sample(i int, metric string, v float64) store.Sample {
	return store.Sample{Time: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute + 123456789), Metric: metric, Value: v}
}

func testSamples(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	if got, err := s.Samples(ctx, "soak-1", 0); err != nil || len(got) != 0 {
		t.Fatalf("samples of an unknown run = %v, %v; want none", got, err)
	}
	in := []store.Sample{sample(0, "rss_bytes", 41e6), sample(0, "fds", 12), sample(1, "rss_bytes", 41.5e6),
		sample(2, "health", 1), sample(2, "rss_bytes", -0.25)}
	if err := s.AppendSamples(ctx, "soak-1", in[:3]...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(ctx, "soak-2", sample(0, "rss_bytes", 7)); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(ctx, "soak-1"); err != nil {
		t.Fatalf("appending nothing: %v", err)
	}
	in[3].Seq = 99 // ignored
	if err := s.AppendSamples(ctx, "soak-1", in[3:]...); err != nil {
		t.Fatal(err)
	}
	want := make([]store.Sample, len(in))
	for i, sm := range in {
		sm.Seq = int64(i + 1)
		want[i] = sm
	}
	got, err := s.Samples(ctx, "soak-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}
	got, err = s.Samples(ctx, "soak-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[3:], got); d != "" {
		t.Errorf("samples after 3 (-want +got):\n%s", d)
	}
	if got, err := s.Samples(ctx, "soak-1", 5); err != nil || len(got) != 0 {
		t.Errorf("samples after the last = %v, %v; want none", got, err)
	}
	got, err = s.Samples(ctx, "soak-2", 0)
	if err != nil || len(got) != 1 || got[0].Seq != 1 || got[0].Value != 7 {
		t.Errorf("samples of another run = %v, %v; want its one sample numbered 1", got, err)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		if err := s.AppendSamples(ctx, "soak-1", sample(9, "ok", 1), sample(9, "rss_bytes", bad)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("appending %v: %v, want ErrInvalid", bad, err)
		}
	}
	if err := s.AppendSamples(ctx, "", sample(0, "x", 1)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("appending to an empty run id: %v, want ErrInvalid", err)
	}
	if got, _ := s.Samples(ctx, "soak-1", 0); len(got) != len(in) {
		t.Errorf("a refused append wrote something: %d samples, want %d", len(got), len(in))
	}
}

// testConcurrentAppends appends from many goroutines over two Stores on the same database
// (as two processes would): no sample may be lost or renumbered.
func testConcurrentAppends(t *testing.T, tg Target) {
	stores := []store.Store{open(t, tg), open(t, tg)}
	ctx := t.Context()
	const workers, appends = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for i := range appends {
				ss := []store.Sample{sample(i, fmt.Sprintf("w%d", w), float64(2*i))}
				if i%3 == 0 {
					ss = append(ss, sample(i, fmt.Sprintf("w%d", w), float64(2*i+1)))
				}
				if err := s.AppendSamples(ctx, "soak", ss...); err != nil {
					errs <- fmt.Errorf("worker %d append %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := stores[0].Samples(ctx, "soak", 0)
	if err != nil {
		t.Fatal(err)
	}
	perWorker := appends + (appends+2)/3
	if len(got) != workers*perWorker {
		t.Fatalf("%d samples, want %d", len(got), workers*perWorker)
	}
	last := map[string]float64{}
	count := map[string]int{}
	for i, sm := range got {
		if sm.Seq != int64(i+1) {
			t.Fatalf("sample %d numbered %d", i+1, sm.Seq)
		}
		if prev, ok := last[sm.Metric]; ok && sm.Value <= prev {
			t.Fatalf("sample %d of %s is %v after %v: a worker's samples out of order", sm.Seq, sm.Metric, sm.Value, prev)
		}
		last[sm.Metric] = sm.Value
		count[sm.Metric]++
	}
	for w := range workers {
		if m := fmt.Sprintf("w%d", w); count[m] != perWorker {
			t.Errorf("worker %d: %d samples stored, want %d", w, count[m], perWorker)
		}
	}
}

func testReopen(t *testing.T, tg Target) {
	ctx := t.Context()
	s, err := tg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := Fixtures(t)[0]
	if err := s.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(ctx, "soak", sample(0, "rss_bytes", 1), sample(1, "rss_bytes", 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, tg)
	got, err := s.GetRun(ctx, r.RunID)
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	if d := cmp.Diff(asJSON(t, r), asJSON(t, got)); d != "" {
		t.Errorf("run after reopening (-want +got):\n%s", d)
	}
	if err := s.AppendSamples(ctx, "soak", sample(2, "rss_bytes", 3)); err != nil {
		t.Fatal(err)
	}
	ss, err := s.Samples(ctx, "soak", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 || ss[0].Value != 1 || ss[2].Seq != 3 || ss[2].Value != 3 {
		t.Errorf("samples after reopening = %+v, want 3 numbered on from before", ss)
	}
}

func testMigrations(t *testing.T, tg Target) {
	ctx := t.Context()
	for i := range 3 {
		s, err := tg.Open(ctx)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != sqldb.SchemaVersion {
			t.Errorf("open %d: schema version %d, %v; want %d", i+1, v, err, sqldb.SchemaVersion)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := tg.Int(ctx, "SELECT COUNT(*) FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(sqldb.SchemaVersion) {
		t.Errorf("%d migrations recorded after three opens, want %d (each once)", n, sqldb.SchemaVersion)
	}
}

func testNewerSchema(t *testing.T, tg Target) {
	ctx := t.Context()
	s, err := tg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := sqldb.SchemaVersion + 1
	if err := tg.Exec(ctx, fmt.Sprintf("INSERT INTO schema_migrations (version, applied_ns) VALUES (%d, 0)", newer)); err != nil {
		t.Fatal(err)
	}
	s, err = tg.Open(ctx)
	if err == nil {
		_ = s.Close()
		t.Fatal("opened a database with a newer schema")
	}
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprint(newer)) {
		t.Errorf("error = %v, want ErrSchemaTooNew naming version %d", err, newer)
	}
}

// testConcurrentOpens opens a new database from several goroutines at once: the migrations
// must still run once.
func testConcurrentOpens(t *testing.T, tg Target) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := tg.Open(ctx)
			if err != nil {
				errs <- err
				return
			}
			if err := s.AppendSamples(ctx, "soak", sample(0, "x", 1)); err != nil {
				errs <- err
			}
			if err := s.Close(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, err := tg.Int(ctx, "SELECT COUNT(*) FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(sqldb.SchemaVersion) {
		t.Errorf("%d migrations recorded, want %d", n, sqldb.SchemaVersion)
	}
}
