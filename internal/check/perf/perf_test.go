package perf_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/perf"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/stats"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// slowApp is the test app spinning slowUS µs of CPU per request to "/".
func slowApp(t testing.TB, version string, slowUS int) *image.Image {
	t.Helper()
	return enginetest.Image(t, "testapp:"+version, testenv.TestAppImage(t, testenv.TestAppOptions{
		Env: []string{"TESTAPP_VERSION=" + version, fmt.Sprintf("TESTAPP_SLOW_US=%d", slowUS)}}))
}

// seedApp is the seed's limits (2 CPUs, 1g each) with the test app's health endpoint.
var seedApp = config.App{CPUs: 2, Memory: "1g", Health: config.Health{HTTP: "/healthz", Timeout: 20 * time.Second}}

// runLayer runs every check of the layer and returns the results by name, leaving nothing
// running (TestMain's testenv.Finish fails the run otherwise).
func runLayer(t testing.TB, rt *docker.Runtime, old, new *image.Image, p config.Perf) map[string]check.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := &check.Env{Old: old, New: new, Log: testLogger(t)}
	got := map[string]check.Result{}
	for _, c := range perf.New(rt, rt, seedApp, p, testenv.NewRunID("perf")) {
		r, err := c.Run(ctx, env)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		got[c.Name()] = r
	}
	return got
}

// shortPerf keeps an end-to-end test near 60 s: 8 rounds of 3 s at 200 requests/s and 1 s capacity bursts, 5 cold
// starts per image.
func shortPerf() config.Perf {
	return config.Perf{Rounds: 8, RoundDuration: 3 * time.Second, Rate: 200, Connections: 20, MetricsPath: "/metrics"}
}

func logResults(t testing.TB, got map[string]check.Result) {
	t.Helper()
	for _, name := range []string{"cold-start", "latency-p95", "throughput", "rss", "cpu-per-request", "gc-pause"} {
		r := got[name]
		t.Logf("%s: %v: old %s, new %s, threshold %s: %s", name, r.Status, r.Baseline, r.Measured, r.Threshold, r.Message)
	}
}

func TestIdenticalImages(t *testing.T) {
	rt := enginetest.Runtime(t)
	got := runLayer(t, rt, slowApp(t, "1.0", 1000), slowApp(t, "1.1", 1000), shortPerf())
	logResults(t, got)
	if len(got) != 6 {
		t.Fatalf("%d results, want 6", len(got))
	}
	for name, r := range got {
		if r.Status == check.StatusFail || r.Status == check.StatusError {
			t.Errorf("%s: %v on identical images: %s", name, r.Status, r.Message)
		}
	}
	for _, name := range []string{"latency-p95", "throughput", "rss", "cpu-per-request", "cold-start"} {
		if r := got[name]; r.Status == check.StatusSkipped || r.Measured == "" || r.Baseline == "" || r.Source == "" {
			t.Errorf("%s: not measured: %+v", name, r)
		}
	}
}

func TestSlowerNew(t *testing.T) {
	rt := enginetest.Runtime(t)
	// +50 % service time: 2 ms of CPU per request on OLD, 3 ms on NEW.
	got := runLayer(t, rt, slowApp(t, "1.0", 2000), slowApp(t, "1.1", 3000), shortPerf())
	logResults(t, got)
	// On a saturated machine the generator falls behind and its rounds are left out; the layer
	// must then say INCONCLUSIVE (never GO), naming why.
	if r := got["cpu-per-request"]; r.Status != check.StatusFail && !tooBusy(r) {
		t.Errorf("cpu-per-request: %v, want fail: %s", r.Status, r.Message)
	}
	// The capacity burst drives each image as hard as it goes: a third less throughput.
	if r := got["throughput"]; r.Status != check.StatusFail && !tooBusy(r) {
		t.Errorf("throughput: %v, want fail: %s", r.Status, r.Message)
	}
	// The p95 is not asserted: on this shared machine it is made of scheduling delays as much
	// as of service time (perf-anchors.md §2). Over three runs of this test under load 3–8 the
	// +50 % service time showed as p95 +30.8 % (NO-GO), +14.5 % (CAUTION) and −0.2 % (GO);
	// see the report of issue 5. It is logged above.
}

// tooBusy reports an INCONCLUSIVE result because rounds were left out for the generator
// falling behind or were too noisy to trust, logging it: the honest answer of a saturated machine.
func tooBusy(r check.Result) bool {
	d, ok := r.Data.(*perf.Data)
	busy := ok && r.Status == check.StatusInconclusive &&
		((d.Series.Behind > 0 && strings.Contains(r.Message, "generator fell behind")) || strings.Contains(r.Message, "too noisy to trust"))
	if busy {
		fmt.Fprintf(os.Stderr, "perf: %s inconclusive, machine too busy: %s\n", r.Check, r.Message)
	}
	return busy
}

func TestInterrupted(t *testing.T) {
	rt := enginetest.Runtime(t)
	cli := testenv.Docker(t)
	old, new := slowApp(t, "1.0", 100), slowApp(t, "1.1", 100)
	runID := testenv.NewRunID("perf")
	p := shortPerf()
	p.ColdStarts = 1
	checks := perf.New(rt, rt, seedApp, p, runID)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	_, err := checks[0].Run(ctx, &check.Env{Old: old, New: new, Log: testLogger(t)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v: want the deadline", err)
	}
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", "plimsoll.run="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 {
		t.Errorf("%d containers left behind", len(res.Items))
	}
}

func TestFirstDeploymentIsSkipped(t *testing.T) {
	for _, c := range perf.New(nil, nil, seedApp, config.Perf{}, "first") {
		r, err := c.Run(context.Background(), &check.Env{New: &image.Image{Ref: "new"}, Log: testLogger(t)})
		if err != nil || r.Status != check.StatusSkipped || !strings.Contains(r.Message, "no OLD image") {
			t.Errorf("%s: %+v, %v: want skipped for want of OLD", c.Name(), r, err)
		}
	}
}

// Detection power (issue 5): not run by default.
//
//	go test ./internal/check/perf -run '^$' -bench Power -benchtime 1x -timeout 4h -args -power -trials 20
var (
	power  = flag.Bool("power", false, "run the detection-power benchmark")
	trials = flag.Int("trials", 20, "power: trials per case")
	baseUS = flag.Int("base-us", 1000, "power: OLD's CPU spin per request, µs")
	effect = flag.Float64("effect", 0.10, "power: NEW's extra service time, a fraction of base-us")
)

func BenchmarkPower(b *testing.B) {
	if !*power {
		b.Skip("pass -args -power to measure the detection power (≈ 1.5 min per trial)")
	}
	rt := enginetest.Runtime(b)
	p := config.Perf{MetricsPath: "/metrics"} // the seed's 14 rounds of 5 s
	slowUS := int(float64(*baseUS) * (1 + *effect))
	for range b.N {
		type tally struct{ n, p95, cpu, anyFail int }
		var regress, same tally
		count := func(tl *tally, got map[string]check.Result) {
			tl.n++
			if regressed(got["latency-p95"]) {
				tl.p95++
			}
			if regressed(got["cpu-per-request"]) {
				tl.cpu++
			}
			for _, r := range got {
				if r.Status == check.StatusFail {
					tl.anyFail++
					break
				}
			}
		}
		for i := range *trials {
			for _, c := range []struct {
				tl  *tally
				new int
			}{{&regress, slowUS}, {&same, *baseUS}} {
				start := time.Now()
				load0 := loadavg()
				got := runLayer(b, rt, slowApp(b, fmt.Sprintf("old-%d", i), *baseUS), slowApp(b, fmt.Sprintf("new-%d-%d", i, c.new), c.new), p)
				count(c.tl, got)
				// Printed at once (b.Logf would hold it until the end): a study takes an hour.
				fmt.Fprintf(os.Stderr, "trial %d new %d µs: %s; p95 %s; cpu %s; loadavg %s → %s\n", i+1, c.new, time.Since(start).Round(time.Second),
					summary(got["latency-p95"]), summary(got["cpu-per-request"]), load0, loadavg())
			}
		}
		fmt.Fprintf(os.Stderr, "+%.0f %% service time: p95 regressed in %d/%d, cpu-per-request in %d/%d, any NO-GO in %d/%d\n",
			100**effect, regress.p95, regress.n, regress.cpu, regress.n, regress.anyFail, regress.n)
		fmt.Fprintf(os.Stderr, "identical: p95 regressed in %d/%d, cpu-per-request in %d/%d, any NO-GO in %d/%d\n",
			same.p95, same.n, same.cpu, same.n, same.anyFail, same.n)
	}
}

// regressed reports whether a result's decision found NEW significantly worse.
func regressed(r check.Result) bool {
	d, ok := r.Data.(*perf.Data)
	return ok && d.Decision != nil && d.Decision.Outcome == stats.Regressed
}

func summary(r check.Result) string {
	d, ok := r.Data.(*perf.Data)
	if !ok || d.Decision == nil {
		return r.Status.String()
	}
	return fmt.Sprintf("%v %+.1f %% [%+.1f, %+.1f] sd %.3f", d.Decision.Outcome, d.Decision.DeltaPct, d.Decision.CILowPct, d.Decision.CIHighPct, d.Decision.LogSD)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
