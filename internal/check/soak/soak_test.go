package soak_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/soak"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	soakrun "github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// TestLayer6SideBySide soaks OLD (the plain test app) and NEW side by side, 40 s compressed:
// a NEW with a GC sawtooth is stable (GO on every metric), a NEW that leaks memory per request
// is NO-GO on memory and stops the soak early. The series ride in the results, the plots are
// written, and the samples are in the store under the run's ID.
func TestLayer6SideBySide(t *testing.T) {
	testenv.Docker(t)
	rt, err := docker.New(t.Context(), docker.WithStopGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	old := enginetest.Image(t, "testapp:old", testenv.TestAppImage(t, testenv.TestAppOptions{}))
	app := config.App{CPUs: 1, Memory: "256m", Health: config.Health{HTTP: "/healthz", Timeout: 20 * time.Second, Interval: 50 * time.Millisecond}}
	sp := config.Soak{Duration: 40 * time.Second, Interval: time.Second, Warmup: 10 * time.Second, Load: config.SoakLoad{Rate: 50, Connections: 4}}
	tests := []struct {
		name    string
		env     []string
		want    map[string]check.Status
		stopped bool
	}{
		{name: "sawtooth", env: []string{"TESTAPP_MODE=sawtooth"}, want: map[string]check.Status{
			"memory": check.StatusPass, "fds": check.StatusPass, "connections": check.StatusPass,
			"cpu": check.StatusPass, "health": check.StatusPass, "errors": check.StatusPass}},
		{name: "memory leak", env: []string{"TESTAPP_LEAK_KB_PER_REQ=64"}, want: map[string]check.Status{
			"memory": check.StatusFail, "health": check.StatusPass}, stopped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			newImg := enginetest.Image(t, "testapp:"+tc.name, testenv.TestAppImage(t, testenv.TestAppOptions{Env: tc.env}))
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "plimsoll.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			dir, runID := t.TempDir(), testenv.NewRunID("l6")
			checks := soak.New(rt, rt, app, sp, soak.Options{RunID: runID, Store: st, ReportDir: dir})
			env := &check.Env{Old: old, New: newImg, Log: testLog(t)}
			start := time.Now()
			for _, c := range checks {
				r, err := c.Run(t.Context(), env)
				if err != nil {
					t.Fatalf("%s: %v", c.Name(), err)
				}
				if r.Layer != check.L6Soak || r.Check != c.Name() {
					t.Errorf("result %d/%s of %s", r.Layer, r.Check, c.Name())
				}
				if want, ok := tc.want[c.Name()]; ok && r.Status != want {
					t.Errorf("%s: %s %q (%s), want %s", c.Name(), r.Status, r.Message, r.Measured, want)
				}
				d, ok := r.Data.(*soakrun.ResultData)
				if !ok || d.Series["new"].Len() == 0 || d.Series["old"].Len() == 0 || len(d.Plots) != 3 {
					t.Fatalf("%s: data %+v", c.Name(), r.Data)
				}
				if c.Name() == "memory" {
					if (d.Stopped != "") != tc.stopped {
						t.Errorf("stopped %q after %d of %d samples", d.Stopped, d.Ticks, d.Planned)
					}
					ss, err := st.Samples(t.Context(), runID, 0)
					if err != nil {
						t.Fatal(err)
					}
					_, ticks, err := soakrun.Recordings(time.Time{}, ss)
					if err != nil || ticks != d.Ticks {
						t.Errorf("store holds %d ticks (%v), the soak took %d", ticks, err, d.Ticks)
					}
					t.Logf("%s: %s %s | %s", tc.name, r.Status, r.Message, r.Measured)
				}
			}
			// A soak that overran its 40 s by minutes, not a slow start on a loaded machine.
			if took := time.Since(start); took > sp.Duration+2*time.Minute {
				t.Errorf("took %s for a soak of %s", took, sp.Duration)
			}
			svg, err := os.ReadFile(filepath.Join(dir, soakrun.PlotMemory))
			if err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "<title>NEW</title>") {
				t.Errorf("memory plot: %v %.80q", err, svg)
			}
		})
	}
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestSoakLongerThanBudget: a soak that cannot end within the run's deadline is an error at
// once, not a run cut short.
func TestSoakLongerThanBudget(t *testing.T) {
	checks := soak.New(nil, nil, config.App{}, config.Soak{}, soak.Options{MinSoak: 24 * time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	env := &check.Env{New: &image.Image{Ref: "x"}, Log: testLog(t)}
	start := time.Now()
	_, err := checks[0].Run(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "does not fit in the run's budget") || time.Since(start) > time.Minute {
		t.Errorf("err = %v", err)
	}
	if _, err2 := checks[3].Run(ctx, env); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("the layer's other checks: %v", err2)
	}
}

// TestMetricsWithinIsAChecked: a plan's "all metrics within N % of baseline" (major, distro)
// is a Layer 6 check of its own, after the six metric checks; without the rule there is none.
func TestMetricsWithinIsACheck(t *testing.T) {
	names := func(o soak.Options) []string {
		var out []string
		for _, c := range soak.New(nil, nil, config.App{}, config.Soak{}, o) {
			out = append(out, c.Name())
		}
		return out
	}
	if got := strings.Join(names(soak.Options{MetricsWithin: 15}), " "); got != "memory fds connections cpu health errors "+soakrun.WithinCheckName {
		t.Errorf("checks %q with the rule, want the six metrics and %s", got, soakrun.WithinCheckName)
	}
	if got := strings.Join(names(soak.Options{}), " "); strings.Contains(got, soakrun.WithinCheckName) {
		t.Errorf("checks %q without the rule", got)
	}
}
