// Package perf is Layer 4 of the gate: it compares the performance of OLD and NEW and says,
// per metric, whether NEW regressed, with old, new, delta, confidence interval, threshold and
// verdict. The metrics are cold start, p95 latency, throughput, RSS, server CPU per request and
// GC pause; each is one check.
//
// The design follows shared/reference/perf-anchors.md, measured on this machine: separate runs
// of OLD and NEW cannot see a 10 % change of the p95 on a shared host, so both run at once,
// under the same CPU and memory limits (config.App's cpus and memory, and the engine's default
// CPU weight for both), and one generator (internal/load) alternates its requests between them,
// swapping which one goes first from round to round. Each round yields a NEW/OLD pair per
// metric, and internal/stats judges the per-round pairs with a signed-rank interval. Rounds in
// which the generator fell behind its own timetable are left out, and counted.
//
//   - cold-start: container create → first healthy response (launch.App.WaitHealthy, probing
//     every 5 ms at most), perf.coldStarts times per image, OLD and NEW alternating, one
//     container at a time.
//   - latency-p95: the p95 of each image in each round (open loop, timed from the due time).
//   - throughput: successful responses per second of each image in each round, at the offered
//     rate: it drops when NEW errors or cannot keep up with the rate (not a maximum-throughput
//     test).
//   - rss: the median of the anonymous memory of each container's cgroup, sampled every
//     100 ms during each round (runtime.Instance.Stats); idle RSS before the rounds, RSS
//     right after them and the peak are reported beside it.
//   - cpu-per-request: the container's CPU time over the round divided by its successful
//     requests (the steadiest signal).
//   - gc-pause: the mean GC pause per cycle in each round, from the app's Prometheus endpoint
//     (perf.metricsPath: go_gc_duration_seconds, jvm_gc_pause_seconds or
//     nodejs_gc_duration_seconds _sum/_count); skipped without an endpoint or
//     when neither image ran a GC cycle.
//
// The verdict of each metric follows the seed (see judge): GO within half the threshold,
// CAUTION up to it, past it CAUTION unless more than two metrics are past theirs or one
// regressed by more than 20 % (NO-GO), and INCONCLUSIVE, not GO, when the interval is too wide
// to tell at the threshold, with the number of rounds that would tell, or when the rounds'
// spread exceeds MaxSpread (a saturated machine).
//
// The whole measurement runs once per run, in the first of the layer's checks to run; every
// container it starts is stopped before that check returns. With no OLD image (a first
// deployment) there is nothing to compare and the checks are skipped, saying so. With
// app.hostNetwork both images would need the same host port at once, so the side-by-side
// metrics cannot be measured (an error); cold start still is.
//
// The detection power on this machine is measured by a benchmark that does not run by default:
//
//	go test ./internal/check/perf -run '^$' -bench Power -benchtime 1x -timeout 4h -args -power -trials 20
package perf

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// New returns Layer 4's checks for a run, one per metric in the order cold-start,
// latency-p95, throughput, rss, cpu-per-request, gc-pause, and then the checks opts add
// (MetricsWithin). They share one measurement, made by whichever runs first; p's zero fields
// take config.DefaultPerf's values.
func New(rt runtime.Runtime, ld launch.Loader, app config.App, p config.Perf, runID string, opts ...Option) []check.Check {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &session{rt: rt, ld: ld, app: app, p: p.WithDefaults(), runID: runID, done: map[[2]*image.Image]*outcome{}}
	out := make([]check.Check, numMetrics, numMetrics+1)
	for m := range numMetrics {
		out[m] = metricCheck{s: s, m: m}
	}
	if o.within > 0 {
		out = append(out, withinCheck{s: s, pct: o.within})
	}
	return out
}

// session is what the checks of one run share.
type session struct {
	rt    runtime.Runtime
	ld    launch.Loader
	app   config.App
	p     config.Perf
	runID string

	mu   sync.Mutex
	done map[[2]*image.Image]*outcome
}

// outcome is the judged measurement of one pair of images.
type outcome struct {
	results [numMetrics]check.Result
	errs    [numMetrics]error
}

func (s *session) thresholds() [numMetrics]float64 {
	t := s.p.Thresholds
	return [numMetrics]float64{t.ColdStart, t.P95, t.Throughput, t.RSS, t.CPUPerRequest, t.GCPause}
}

// outcome measures and judges env's pair of images on first use.
func (s *session) outcome(ctx context.Context, env *check.Env) (*outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]*image.Image{env.Old, env.New}
	if o, ok := s.done[key]; ok {
		return o, nil
	}
	series, err := s.measure(ctx, env)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // not remembered: a later run with a live context may still tell
		}
		o := &outcome{}
		for m := range numMetrics {
			o.errs[m] = err
		}
		s.done[key] = o
		return o, nil
	}
	o := &outcome{}
	for m := range numMetrics {
		o.errs[m] = series.errs[m]
	}
	res, err := judge(series.s, s.thresholds())
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	o.results = res
	s.done[key] = o
	return o, nil
}

// metricCheck is the check of one metric.
type metricCheck struct {
	s *session
	m Metric
}

func (c metricCheck) Name() string { return c.m.String() }

func (c metricCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if env.New == nil {
		return check.Result{}, errors.New("perf: no NEW image")
	}
	if env.Old == nil {
		return check.Result{Layer: check.L4Perf, Check: c.Name(), Status: check.StatusSkipped,
			Message: "first deployment: no OLD image to compare NEW's performance with"}, nil
	}
	o, err := c.s.outcome(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	if o.errs[c.m] != nil {
		return check.Result{}, fmt.Errorf("perf %s: %w", c.m, o.errs[c.m])
	}
	return o.results[c.m], nil
}
