package perf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/stats"
)

// WithinCheckName is the check that holds a plan's "all metrics within N % of baseline".
const WithinCheckName = "metrics-within"

// Option changes what New returns.
type Option func(*options)

type options struct{ within float64 }

// MetricsWithin adds the check of a plan's promotion rule "all metrics within pct % of the old
// image" (the major and distro plans' 15 %): it fails when any measured metric is significantly
// worse than OLD by more than pct, warns when one may be but the rounds cannot tell, and passes
// otherwise. pct ≤ 0 adds nothing.
func MetricsWithin(pct float64) Option { return func(o *options) { o.within = pct } }

// withinCheck is the promotion rule's check over every metric of the shared measurement.
type withinCheck struct {
	s   *session
	pct float64
}

func (withinCheck) Name() string { return WithinCheckName }

func (c withinCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if env.New == nil {
		return check.Result{}, errors.New("perf: no NEW image")
	}
	if env.Old == nil {
		return check.Result{Status: check.StatusSkipped, Message: "first deployment: no OLD image to compare NEW's metrics with"}, nil
	}
	o, err := c.s.outcome(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	for m := range numMetrics {
		if o.errs[m] != nil {
			return check.Result{}, fmt.Errorf("perf %s: %w", Metric(m), o.errs[m])
		}
	}
	return within(o.results, c.pct), nil
}

// worse is how much worse NEW is than OLD in d, in percent (negative when better), with the
// bounds of its interval; throughput is worse when it drops.
func worse(m Metric, d *stats.Decision) (est, low, high float64) {
	if m == Throughput {
		return -d.DeltaPct, -d.CIHighPct, -d.CILowPct
	}
	return d.DeltaPct, d.CILowPct, d.CIHighPct
}

// within judges the rule "every metric within pct % of OLD" on the judged results of Layer 4:
// Fail when a metric's whole interval is worse than OLD by more than pct, Warn when a
// metric's estimate is but its interval reaches back within pct (or a metric could not be
// compared), Pass otherwise. Measured and Baseline name the metric that is furthest off.
func within(results [numMetrics]check.Result, pct float64) check.Result {
	r := check.Result{Layer: check.L4Perf, Check: WithinCheckName, Source: "Layer 4's paired rounds (every metric)",
		Threshold: fmt.Sprintf("every metric within %g %% of OLD (the plan's promotion rule)", pct)}
	var over, unsure, untold []string
	worst, worstM := math.Inf(-1), Metric(-1)
	for m := range numMetrics {
		res := results[m]
		if res.Status == check.StatusSkipped {
			continue
		}
		d, _ := res.Data.(*Data)
		if d == nil || d.Decision == nil {
			untold = append(untold, m.String())
			continue
		}
		est, low, _ := worse(m, d.Decision)
		if est > worst {
			worst, worstM = est, m
		}
		switch {
		case est > pct && low > pct && d.Decision.Confidence > 0:
			over = append(over, fmt.Sprintf("%s %+.1f %%", m, est))
		case est > pct:
			unsure = append(unsure, fmt.Sprintf("%s %+.1f %%", m, est))
		}
	}
	if worstM >= 0 {
		d := results[worstM].Data.(*Data)
		r.Measured = fmt.Sprintf("%s %+.1f %% (NEW %s %s)", worstM, worst, num(d.Decision.New), d.Series.Unit)
		r.Baseline = fmt.Sprintf("%s OLD %s %s", worstM, num(d.Decision.Old), d.Series.Unit)
	}
	switch {
	case len(over) > 0:
		r.Status = check.StatusFail
		r.Message = fmt.Sprintf("NO-GO: not every metric is within %g %% of OLD: %s", pct, strings.Join(over, ", "))
	case len(unsure) > 0:
		r.Status = check.StatusWarn
		r.Message = fmt.Sprintf("CAUTION: may be more than %g %% worse than OLD, the rounds cannot tell: %s", pct, strings.Join(unsure, ", "))
	case len(untold) > 0:
		r.Status = check.StatusWarn
		r.Message = fmt.Sprintf("CAUTION: not every metric could be compared with OLD (%s), so the %g %% rule is not verified", strings.Join(untold, ", "), pct)
	case worstM < 0:
		r.Status, r.Message = check.StatusSkipped, "no metric was measured"
	default:
		r.Status = check.StatusPass
		r.Message = fmt.Sprintf("every measured metric is within %g %% of OLD", pct)
	}
	return r
}
