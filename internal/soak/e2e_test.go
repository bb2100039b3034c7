package soak_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// compressed is a soak of 40 s, a sample a second, 5 s of warm-up, 50 requests/s.
func compressed() config.Soak {
	return config.Soak{Duration: 40 * time.Second, Interval: time.Second, Warmup: 5 * time.Second,
		Load: config.SoakLoad{Rate: 50, Connections: 4}}
}

var testApp = config.App{CPUs: 1, Memory: "256m", Health: config.Health{HTTP: "/healthz", Timeout: 20 * time.Second, Interval: 50 * time.Millisecond}}

// TestSoakClassifies soaks test apps that leak FDs or connections, whose health slowly fails,
// or whose health fails now and then but recovers: each is told apart within the compressed
// soak (the leaks and the failing health stopped at a limit), and every sample is in the store.
func TestSoakClassifies(t *testing.T) {
	t.Parallel()
	rt := enginetest.Runtime(t)
	tests := []struct {
		name    string
		env     []string
		check   string
		want    check.Status
		stopped string
	}{
		{name: "leaking FDs", env: []string{"TESTAPP_LEAK_FDS_PER_SEC=60"}, check: "fds", want: check.StatusFail, stopped: "NEW fds"},
		{name: "slowly failing health", env: []string{"TESTAPP_HEALTH_FAIL_AFTER_MS=15000"}, check: "health", want: check.StatusFail, stopped: "NEW health"},
		{name: "leaking connections", env: []string{"TESTAPP_LEAK_CONNS_PER_SEC=15"}, check: "connections", want: check.StatusFail, stopped: "NEW"},
		// Every 25th probe fails: one or two failures in the soak's 40, each followed by a pass.
		{name: "recovering health", env: []string{"TESTAPP_HEALTH_FAIL_EVERY=25"}, check: "health", want: check.StatusWarn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := enginetest.Image(t, "testapp:"+tc.check, testenv.TestAppImage(t, testenv.TestAppOptions{Env: tc.env}))
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "plimsoll.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			runID := testenv.NewRunID("soak")
			start := time.Now()
			out, err := soak.Run(t.Context(), soak.Options{RunID: runID, New: img, App: testApp, Soak: compressed(),
				Runtime: rt, Loader: rt, Store: st})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			res := soak.Results(out)
			byName := map[string]check.Result{}
			for _, r := range res {
				byName[r.Check] = r
			}
			got := byName[tc.check]
			if got.Status != tc.want || !strings.HasPrefix(out.Stopped, tc.stopped) || tc.stopped == "" && out.Stopped != "" {
				t.Errorf("%s: %s %q; stopped %q after %d samples, want %s stopped by %q", tc.check, got.Status, got.Message, out.Stopped, out.Ticks, tc.want, tc.stopped)
			}
			if byName["memory"].Status == check.StatusFail {
				t.Errorf("memory: %s %q", byName["memory"].Status, byName["memory"].Message)
			}
			// A soak that overran its 40 s by minutes, not a slow start on a loaded machine.
			if took > compressed().Duration+2*time.Minute {
				t.Errorf("took %s", took)
			}
			ss, err := st.Samples(t.Context(), runID, 0)
			if err != nil {
				t.Fatal(err)
			}
			recs, ticks, err := soak.Recordings(out.Start, ss)
			if err != nil || ticks != out.Ticks || recs["new"].RSS.Len() != out.Ticks || recs["new"].FDs.Len() != out.Ticks {
				t.Errorf("store: %d ticks, %d RSS samples (%v), want %d", ticks, recs["new"].RSS.Len(), err, out.Ticks)
			}
			t.Logf("%s: %d samples in %s, stopped: %s", tc.name, out.Ticks, took.Round(time.Second), out.Stopped)
		})
	}
}

// TestInterruptedThenRestarted: a resumable soak interrupted by its context leaves its
// container running; when the container is gone by the time of the resume, the resume starts
// it again, says so, and still observes every planned sample once.
func TestInterruptedThenRestarted(t *testing.T) {
	t.Parallel()
	rt := enginetest.Runtime(t)
	img := enginetest.Image(t, "testapp:restart", testenv.TestAppImage(t, testenv.TestAppOptions{}))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "plimsoll.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runID, statePath := testenv.NewRunID("soak"), filepath.Join(t.TempDir(), "state.json")
	sp := config.Soak{Duration: 12 * time.Second, Interval: time.Second, Warmup: 2 * time.Second, Load: config.SoakLoad{Rate: 20, Connections: 2}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	o := soak.Options{RunID: runID, New: img, App: testApp, Soak: sp, Runtime: rt, Loader: rt, Store: st,
		StatePath: statePath, KeepLabel: docker.LabelKeepUntil, Adopt: rt.Adopt,
		Progress: func(p soak.Progress) {
			if p.Tick == 5 {
				cancel()
			}
		}}
	if _, err := soak.Run(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted soak: %v", err)
	}
	inst, err := rt.Adopt(t.Context(), runID, "soak-new")
	if err != nil {
		t.Fatalf("the interrupted soak's container is gone: %v", err)
	}
	if s, err := inst.State(t.Context()); err != nil || !s.Running {
		t.Fatalf("container state %+v %v", s, err)
	}
	if _, err := rt.StopRun(context.WithoutCancel(t.Context()), runID); err != nil {
		t.Fatal(err)
	}
	state, err := soak.ReadState(statePath)
	if err != nil {
		t.Fatal(err)
	}
	o.Resume, o.Progress = state, nil
	out, err := soak.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ticks != 12 || !strings.Contains(strings.Join(out.Notes, "\n"), "restarted it") {
		t.Errorf("%d ticks, notes %q", out.Ticks, out.Notes)
	}
	ss, err := st.Samples(t.Context(), runID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ticks, err := soak.Recordings(out.Start, ss); err != nil || ticks != 12 {
		t.Errorf("stored ticks %d %v", ticks, err)
	}
	if _, err := soak.Run(t.Context(), soak.Options{Resume: mustState(t, statePath)}); !errors.Is(err, soak.ErrFinished) {
		t.Errorf("resuming a finished soak: %v", err)
	}
}

func mustState(t *testing.T, path string) *soak.State {
	t.Helper()
	st, err := soak.ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
