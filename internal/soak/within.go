package soak

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
)

// WithinCheckName is Layer 6's check of a plan's promotion rule "all metrics within N % of
// baseline" (the major and distro plans' 15 %), as Layer 4's metrics-within is for its rounds.
const WithinCheckName = "metrics-within"

// level is where one metric of one image sits after the warm-up: the median of its samples
// and their quartiles.
type level struct{ q1, med, q3 float64 }

func levelOf(v []float64) (level, bool) {
	if len(v) < minTrend {
		return level{}, false
	}
	c := slices.Clone(v)
	slices.Sort(c)
	q := func(p float64) float64 { return c[int(math.Round(p*float64(len(c)-1)))] }
	return level{q1: q(0.25), med: medianOf(c), q3: q(0.75)}, true
}

// withinMetric is one metric the rule compares: its samples after the warm-up, how its values
// read, and the smallest difference it counts (0 for none).
type withinMetric struct {
	name, unit string
	samples    func(r *Recording, w Window) []float64
	// scale turns a sample into the unit shown.
	scale float64
	// floor is the smallest rise counted: a smaller one is within the rule.
	floor float64
}

func withinMetrics(l config.SoakLimits) []withinMetric {
	values := func(pick func(*Recording) *Series) func(*Recording, Window) []float64 {
		return func(r *Recording, w Window) []float64 { return after(pick(r), w.Warmup).V }
	}
	return []withinMetric{
		{name: "memory", unit: "MiB", scale: 1.0 / (1 << 20), floor: l.NoiseFloor(),
			samples: values(func(r *Recording) *Series { return &r.RSS })},
		{name: "cpu", unit: "% of a CPU", scale: 100, floor: minCPURise, samples: cpuUse},
		{name: "fds", unit: "FDs", scale: 1, floor: minFDLeak,
			samples: values(func(r *Recording) *Series { return &r.FDs })},
		{name: "connections", unit: "connections", scale: 1, floor: minConnLeak,
			samples: values(func(r *Recording) *Series { return &r.Conns })},
	}
}

// minCPURise is the smallest difference of CPU use, in CPUs, the rule counts: 1 % of one CPU.
// A near-idle app's +15 % is a fraction of that (the test app at the soak's 20 requests/s uses
// 1.2 % of a CPU, measured in the zoo's distro pair, so its +15 % is 0.2 % of a CPU), below
// what one-second cgroup samples of two containers on a shared host tell apart, and below any
// cost the rule protects.
const minCPURise = 0.01

// cpuUse is the CPU used in each interval after the warm-up, in CPUs.
func cpuUse(r *Recording, w Window) []float64 {
	p := after(&r.CPU, w.Warmup)
	var use []float64
	for i := 1; i < len(p.T); i++ {
		if dt := p.T[i] - p.T[i-1]; dt > 0 {
			use = append(use, (p.V[i]-p.V[i-1])/dt)
		}
	}
	return use
}

// Within judges the rule "every metric within pct % of OLD" on the levels the soak saw after
// its warm-up — memory, CPU per interval, open FDs and TCP connections, each compared by its
// median — where the other checks judge each image's growth. A metric whose median is more
// than pct above OLD's, by at least the metric's floor, is past the rule: FAIL when NEW's lower
// quartile is past OLD's upper quartile by more than pct as well (the samples do not overlap),
// WARN when they overlap (the samples cannot tell). The floors are the smallest differences
// the soak tells apart from noise: memory, soak.limits.memoryNoiseFloor (what a runtime growing
// its heap adds in a soak without a leak); 16 FDs and 32 connections, the smallest rises the
// soak counts as a leak; CPU, minCPURise. Measured and Baseline name the metric furthest off;
// the table has every metric.
func Within(o *Outcome, l config.SoakLimits, pct float64) check.Result {
	r := check.Result{Layer: check.L6Soak, Check: WithinCheckName,
		Source:    "soak: medians after the warm-up of cgroup memory, CPU used per interval, open FDs and TCP connections, OLD and NEW side by side",
		Threshold: fmt.Sprintf("every metric within %g %% of OLD (the plan's promotion rule)", pct)}
	nr, or := o.Recordings["new"], o.Recordings["old"]
	if nr == nil {
		r.Status, r.Message = check.StatusError, "the soak recorded nothing of NEW"
		return r
	}
	if or == nil {
		r.Status, r.Message = check.StatusSkipped, "first deployment: no OLD image to compare NEW's metrics with"
		return r
	}
	t := check.Table{Title: fmt.Sprintf("Layer 6 levels, NEW against OLD (within %g %%)", pct),
		Columns: []string{"metric", "OLD median", "NEW median", "change", "judgement"}}
	var over, unsure, untold []string
	worst, worstRow := math.Inf(-1), -1
	for _, m := range withinMetrics(l) {
		ol, okO := levelOf(m.samples(or, o.Window))
		nl, okN := levelOf(m.samples(nr, o.Window))
		if !okO || !okN {
			untold = append(untold, m.name)
			t.Rows = append(t.Rows, []string{m.name, "", "", "", fmt.Sprintf("fewer than %d samples after the warm-up", minTrend)})
			continue
		}
		show := func(v float64) string { return fmt.Sprintf("%.4g %s", v*m.scale, m.unit) }
		est := 0.0
		switch {
		case ol.med > 0:
			est = 100 * (nl.med - ol.med) / ol.med
		case nl.med > 0:
			est = math.Inf(1)
		}
		rise := nl.med - ol.med
		judgement := "within"
		switch {
		case est <= pct:
		case rise < m.floor:
			judgement = fmt.Sprintf("within: a rise under %s", show(m.floor))
		case nl.q1 > ol.q3*(1+pct/100):
			judgement = "past the rule"
			over = append(over, fmt.Sprintf("%s %s", m.name, pctStr(est)))
		default:
			judgement = "may be past the rule: the samples overlap"
			unsure = append(unsure, fmt.Sprintf("%s %s", m.name, pctStr(est)))
		}
		t.Rows = append(t.Rows, []string{m.name, show(ol.med), show(nl.med), pctStr(est), judgement})
		if est > worst {
			worst, worstRow = est, len(t.Rows)-1
			r.Measured = fmt.Sprintf("%s %s (NEW median %s)", m.name, pctStr(est), show(nl.med))
			r.Baseline = fmt.Sprintf("%s OLD median %s", m.name, show(ol.med))
		}
	}
	r.Tables = []check.Table{t}
	switch {
	case len(over) > 0:
		r.Status = check.StatusFail
		r.Message = fmt.Sprintf("NO-GO: not every metric is within %g %% of OLD over the soak: %s", pct, strings.Join(over, ", "))
	case len(unsure) > 0:
		r.Status = check.StatusWarn
		r.Message = fmt.Sprintf("CAUTION: may be more than %g %% above OLD over the soak, the samples cannot tell: %s", pct, strings.Join(unsure, ", "))
	case len(untold) > 0:
		r.Status = check.StatusWarn
		r.Message = fmt.Sprintf("CAUTION: not every metric could be compared with OLD (%s), so the %g %% rule is not verified", strings.Join(untold, ", "), pct)
	case worstRow < 0:
		r.Status, r.Message = check.StatusInconclusive, "no metric was measured"
	default:
		r.Status = check.StatusPass
		r.Message = fmt.Sprintf("every metric is within %g %% of OLD over the soak", pct)
	}
	return r
}

func pctStr(p float64) string {
	if math.IsInf(p, 1) {
		return "from none"
	}
	return fmt.Sprintf("%+.1f %%", p)
}
