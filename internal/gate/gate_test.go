package gate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/timing"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// fake is a check whose behaviour the test sets.
type fake struct {
	name string
	run  func(ctx context.Context) (check.Result, error)
}

func (f fake) Name() string { return f.name }
func (f fake) Run(ctx context.Context, _ *check.Env) (check.Result, error) {
	return f.run(ctx)
}

func status(s check.Status) fake {
	return fake{name: s.String(), run: func(context.Context) (check.Result, error) {
		return check.Result{Status: s, Message: "it is " + s.String()}, nil
	}}
}

func env() *check.Env { return &check.Env{Log: discard} }

func TestRunLayersStates(t *testing.T) {
	closed := 0
	avail := Layers{
		check.L1Diff:   {Checks: []check.Check{status(check.StatusPass), status(check.StatusWarn)}, Close: func(context.Context) error { closed++; return nil }},
		check.L2Smoke:  {Checks: []check.Check{status(check.StatusFail)}},
		check.L5Harden: {Checks: []check.Check{status(check.StatusPass)}},
	}
	var events []EventKind
	layers, runs, results, err := runLayers(context.Background(), env(), avail,
		[]check.Layer{check.L1Diff, check.L2Smoke, check.L4Perf, check.L5Harden}, []check.Layer{check.L5Harden},
		func(e Event) { events = append(events, e.Kind) })
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 6 {
		t.Fatalf("%d layers reported, want all 6", len(layers))
	}
	want := map[check.Layer][2]string{
		check.L1Diff: {report.StateRan, "warn"}, check.L2Smoke: {report.StateRan, "fail"},
		check.L3Functional: {report.StateNotPlanned, "skipped"}, check.L4Perf: {report.StateNotRun, "skipped"},
		check.L5Harden: {report.StateExcluded, "skipped"}, check.L6Soak: {report.StateNotPlanned, "skipped"},
	}
	for _, l := range layers {
		if w := want[l.Layer]; l.State != w[0] || l.Status.String() != w[1] {
			t.Errorf("%v: %s/%s, want %s/%s", l.Layer, l.State, l.Status, w[0], w[1])
		}
	}
	if len(results) != 3 || closed != 1 {
		t.Errorf("results %d, closed %d", len(results), closed)
	}
	// The verdict learns which layers ran, which were excluded and which could not run.
	if len(runs) != 4 || !runs[0].Ran || runs[2].Ran || runs[2].Why == "" || !runs[3].Excluded {
		t.Errorf("runs = %+v", runs)
	}
	if !slices.Contains(events, EventCheckDone) || !slices.Contains(events, EventLayerDone) {
		t.Errorf("events = %v", events)
	}
}

func TestLayerStatus(t *testing.T) {
	r := func(ss ...check.Status) []check.Result {
		var out []check.Result
		for _, s := range ss {
			out = append(out, check.Result{Status: s})
		}
		return out
	}
	for _, tt := range []struct {
		in   []check.Result
		want check.Status
	}{
		{r(check.StatusPass, check.StatusSkipped), check.StatusPass},
		{r(check.StatusSkipped, check.StatusSkipped), check.StatusSkipped},
		{r(check.StatusSkipped, check.StatusWarn), check.StatusWarn},
		{r(check.StatusFail, check.StatusPass), check.StatusFail},
		{nil, check.StatusSkipped},
	} {
		if got := layerStatus(tt.in); got != tt.want {
			t.Errorf("layerStatus(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestALayerThatSkippedEverythingVerifiedNothing(t *testing.T) {
	_, runs, _, err := runLayers(context.Background(), env(), Layers{
		check.L3Functional: {Checks: []check.Check{status(check.StatusSkipped)}},
		check.L2Smoke:      {Checks: []check.Check{status(check.StatusSkipped), status(check.StatusPass)}},
	}, []check.Layer{check.L2Smoke, check.L3Functional}, nil, func(Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if !runs[0].Ran || runs[1].Ran || !strings.Contains(runs[1].Why, "every check was skipped: it is skipped") {
		t.Errorf("runs = %+v: L2 verified something, L3 nothing", runs)
	}
}

func TestRunOneTurnsErrorsAndPanicsIntoResults(t *testing.T) {
	boom := fake{name: "boom", run: func(context.Context) (check.Result, error) { panic("nil map") }}
	broken := fake{name: "broken", run: func(context.Context) (check.Result, error) { return check.Result{}, errors.New("daemon gone") }}
	slow := fake{name: "slow", run: func(ctx context.Context) (check.Result, error) {
		<-ctx.Done()
		return check.Result{}, ctx.Err()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, results, err := runLayers(ctx, env(), Layers{check.L1Diff: {Checks: []check.Check{boom, broken, slow}}},
		[]check.Layer{check.L1Diff}, nil, func(Event) {})
	if err != nil {
		t.Fatalf("a spent budget is a result, not an error: %v", err)
	}
	for i, want := range []string{"internal error in check: nil map", "daemon gone", "time budget exceeded"} {
		if results[i].Status != check.StatusError || !strings.Contains(results[i].Message, want) {
			t.Errorf("%s: %v %q, want error with %q", results[i].Check, results[i].Status, results[i].Message, want)
		}
	}
}

// TestCallTimeoutIsNotTheBudget: a check failing on a call that timed out (its own deadline,
// as an engine call that got no answer) while the run has time left is not "time budget
// exceeded".
func TestCallTimeoutIsNotTheBudget(t *testing.T) {
	call := fake{name: "call", run: func(ctx context.Context) (check.Result, error) {
		cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		<-cctx.Done()
		return check.Result{}, fmt.Errorf("inspect container: %w", cctx.Err())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, _, results, err := runLayers(ctx, env(), Layers{check.L2Smoke: {Checks: []check.Check{call, status(check.StatusPass)}}},
		[]check.Layer{check.L2Smoke}, nil, func(Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Status != check.StatusError || strings.Contains(r.Message, "budget") || !strings.Contains(r.Message, "inspect container") {
		t.Errorf("%s: %v %q, want ERROR with the call's error and no word of the budget", r.Check, r.Status, r.Message)
	}
	if len(results) != 2 || results[1].Status != check.StatusPass {
		t.Errorf("results = %+v: the run had time left, the next check must run", results)
	}
}

// TestStoppedRunStillReports: a run stopped by a signal or by its budget while a check waits
// (an engine that stopped answering) still reports: verdict ERROR, the check that was running
// and why it stopped, the layers after it not run.
func TestStoppedRunStillReports(t *testing.T) {
	hung := fake{name: "hung", run: func(ctx context.Context) (check.Result, error) {
		<-ctx.Done()
		return check.Result{}, fmt.Errorf("inspect container: %w", ctx.Err())
	}}
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
		why     string
	}{
		{"budget", func() (context.Context, context.CancelFunc) {
			return context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("the time budget of 50ms ran out"))
		}, nil, "the time budget of 50ms ran out"},
		{"signal", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(50*time.Millisecond, func() { cancel(errors.New("interrupted by SIGTERM")) })
			return ctx, func() { cancel(nil) }
		}, context.Canceled, "interrupted by SIGTERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			layers, runs, results, err := runLayers(ctx, env(), Layers{
				check.L1Diff:   {Checks: []check.Check{status(check.StatusPass)}},
				check.L2Smoke:  {Checks: []check.Check{status(check.StatusPass), hung, status(check.StatusPass)}},
				check.L5Harden: {Checks: []check.Check{status(check.StatusPass)}},
			}, []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden}, nil, func(Event) {})
			if !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			last := results[len(results)-1]
			if len(results) != 3 || last.Check != "hung" || last.Status != check.StatusError ||
				!strings.Contains(last.Message, "smoke/hung") || !strings.Contains(last.Message, tc.why) {
				t.Errorf("results = %+v, want the hung check last, ERROR, saying where and why it stopped", results)
			}
			l5 := layers[check.L5Harden-1]
			if l5.State != report.StateNotRun || !strings.Contains(l5.Why, tc.why) {
				t.Errorf("L5 = %+v, want not run because %s", l5, tc.why)
			}
			if v := verdict.Decide(verdict.Policy{}, runs, results); v.Decision != verdict.Error {
				t.Errorf("verdict = %v, want ERROR", v.Decision)
			}
		})
	}
}

func TestCancelStopsAndStillCleansUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	closedWith := context.Context(nil)
	second := false
	avail := Layers{
		check.L1Diff: {
			Checks: []check.Check{
				fake{name: "interrupted", run: func(context.Context) (check.Result, error) {
					cancel()
					return check.Result{Status: check.StatusPass}, nil
				}},
				fake{name: "never", run: func(context.Context) (check.Result, error) { second = true; return check.Result{}, nil }},
			},
			Close: func(ctx context.Context) error { closedWith = ctx; return nil },
		},
		check.L2Smoke: {Checks: []check.Check{status(check.StatusPass)}},
	}
	layers, _, _, err := runLayers(ctx, env(), avail, []check.Layer{check.L1Diff, check.L2Smoke}, nil, func(Event) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The report still shows what ran, and that L2 did not.
	if len(layers) != len(check.AllLayers) || layers[0].State != report.StateRan || layers[1].State != report.StateNotRun ||
		!strings.Contains(layers[1].Why, "not run: context canceled") {
		t.Errorf("layers after a cancel = %+v", layers)
	}
	if second {
		t.Error("a check ran after the run was cancelled")
	}
	if closedWith == nil || closedWith.Err() != nil {
		t.Errorf("the layer was not closed with a live context: %v", closedWith)
	}
}

func TestNarrow(t *testing.T) {
	plan := []check.Layer{1, 2, 5}
	tests := []struct {
		asked             []check.Layer
		planned, excluded []check.Layer
	}{
		{nil, []check.Layer{1, 2, 5}, nil},
		{[]check.Layer{1}, []check.Layer{1, 2, 5}, []check.Layer{2, 5}},
		{[]check.Layer{1, 6}, []check.Layer{1, 2, 5, 6}, []check.Layer{2, 5}},
	}
	for _, tt := range tests {
		p, e := narrow(plan, tt.asked)
		if !slices.Equal(p, tt.planned) || !slices.Equal(e, tt.excluded) {
			t.Errorf("narrow(%v, %v) = %v, %v; want %v, %v", plan, tt.asked, p, e, tt.planned, tt.excluded)
		}
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{
		"alpine:3.20.3": {"alpine", "3.20.3"}, "127.0.0.1:5000/app/web:1.2": {"127.0.0.1:5000/app/web", "1.2"},
		"127.0.0.1:5000/app": {"127.0.0.1:5000/app", ""}, "": {"", ""}, "plain": {"plain", ""},
	} {
		if r, tg := splitName(in); r != want[0] || tg != want[1] {
			t.Errorf("splitName(%q) = %q, %q", in, r, tg)
		}
	}
}

// TestCheckReportsPhaseTimings: the report carries the time of each phase, recorded by the gate
// (resolve, facts) and by the checks through the run's recorder.
func TestCheckReportsPhaseTimings(t *testing.T) {
	dir := t.TempDir()
	var refs []string
	for _, v := range []string{"3.19.4", "3.20.3"} {
		p := filepath.Join(dir, v+".tar")
		tag, err := name.NewTag("example.com/alpine:" + v)
		if err != nil {
			t.Fatal(err)
		}
		if err := tarball.WriteToFile(p, tag, testenv.AlpineImage(t, v)); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, "docker-archive:"+p)
	}
	// Every reading of the recorder's clock moves it by a second, so each span lasts a second.
	var tick time.Time
	rec := &timing.Recorder{Now: func() time.Time { tick = tick.Add(time.Second); return tick }}
	matching := fake{name: "match", run: func(context.Context) (check.Result, error) {
		return check.Result{Status: check.StatusPass}, nil
	}}
	rep, err := Check(context.Background(), Request{Old: refs[0], New: refs[1], Layers: []check.Layer{check.L1Diff},
		Timings: rec,
		Checks: func(Setup) Layers {
			return Layers{check.L1Diff: {Checks: []check.Check{recording{matching, timing.Match}}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := &report.Timings{Resolve: report.Duration(time.Second), Facts: report.Duration(time.Second),
		Match: report.Duration(time.Second)}
	if rep.Timings == nil || *rep.Timings != *want {
		t.Errorf("timings = %+v, want %+v", rep.Timings, want)
	}
}

// recording is a check that spends one span of a phase through the run's recorder.
type recording struct {
	fake
	phase timing.Phase
}

func (r recording) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	defer env.Timings.Start(r.phase)()
	return r.fake.Run(ctx, env)
}
