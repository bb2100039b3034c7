package perf

import (
	"fmt"
	"math"
	"strconv"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/stats"
)

// Metric is one quantity Layer 4 compares; each is one check of the layer.
type Metric int

// The metrics, in the order of the layer's checks.
const (
	ColdStart Metric = iota
	LatencyP95
	Throughput
	RSS
	CPUPerRequest
	GCPause
	numMetrics
)

var metricNames = [numMetrics]string{"cold-start", "latency-p95", "throughput", "rss", "cpu-per-request", "gc-pause"}

// String is the metric's check name.
func (m Metric) String() string {
	if m < 0 || m >= numMetrics {
		return "metric(" + strconv.Itoa(int(m)) + ")"
	}
	return metricNames[m]
}

// The seed's rule ("GO < 5 % regression, CAUTION 5-10 %, NO-GO > 10 %, or > 2 metrics over
// threshold, or any > 20 %"): a metric significantly over its own threshold is NO-GO when it
// regressed by more than noGoPct (NoGoPct, or its threshold when that is wider), or when more
// than MaxOverThreshold metrics are over theirs; otherwise — over a tighter threshold such as
// RSS's 5 % but within 10 % — it is CAUTION. The seed's "any > 20 %" is within "NO-GO > 10 %",
// so it is not a rule of its own.
const (
	NoGoPct          = 10.0
	MaxOverThreshold = 2
)

// noGoPct is the regression past which a metric judged at threshold pct is NO-GO on its own:
// the seed's NoGoPct, or the threshold when it is wider (a metric within its threshold is never
// past it). judge applies it and thresholdText prints it, so the two cannot disagree.
func noGoPct(pct float64) float64 { return max(pct, NoGoPct) }

// MaxSpread is the largest per-round spread (standard deviation of ln NEW/OLD) a decision is
// trusted at: internal/stats was calibrated at ≈ 0.09, and on a saturated machine the p95 ratio
// reached 0.49 and gave a confident-looking interval on the wrong side (a +50 % slower NEW
// measured −20 %). Beyond it the metric is INCONCLUSIVE.
const MaxSpread = 0.30

// Series is what was measured of one metric: Old[i] and New[i] in the same round (or the same
// pair of cold starts).
type Series struct {
	Metric Metric `json:"metric"`
	// Unit names the values' unit ("ms", "MiB", "µs", "req/s").
	Unit string    `json:"unit"`
	Old  []float64 `json:"old"`
	New  []float64 `json:"new"`
	// Total is the rounds run; Behind how many of them were left out because the generator
	// fell behind; Dropped how many were left out for want of a value (no GC cycle, no
	// successful request).
	Total   int `json:"total"`
	Behind  int `json:"behind,omitempty"`
	Dropped int `json:"dropped,omitempty"`
	// DropWhy says why rounds were dropped.
	DropWhy string `json:"drop_why,omitempty"`
	// Skip, when set, says why the metric was not measured at all.
	Skip string `json:"skip,omitempty"`
	// Source says where the values come from.
	Source string `json:"source"`
	// Extra rows for the evidence table ("idle RSS", "peak").
	Extra [][]string `json:"extra,omitempty"`
}

// Data is the machine-readable evidence of one metric's result.
type Data struct {
	Series   Series          `json:"series"`
	Decision *stats.Decision `json:"decision,omitempty"`
	// OverThreshold is true when the metric regressed significantly past its threshold.
	OverThreshold bool `json:"over_threshold"`
}

// policy returns the stats policy of m at the threshold pct (percent of OLD): the GO band is
// half the threshold (the seed's 5 % of 10 %).
func policy(m Metric, pct float64) stats.Policy {
	p := stats.DefaultPolicy()
	p.Threshold = pct / 100
	p.GoBand = p.Threshold / 2
	p.HigherIsBetter = m == Throughput
	return p
}

// judge turns the series of every metric into one result each, by the seed's rule: each
// metric is compared with stats.Compare at its threshold (thresholds[m], percent of OLD); GO is
// Pass, CAUTION Warn, INCONCLUSIVE Inconclusive (suggesting more rounds), and a metric
// significantly past its threshold is Fail when it regressed by more than noGoPct or more
// than MaxOverThreshold metrics are past theirs, else Warn. A series that cannot be compared
// (values not positive) is an error.
func judge(series [numMetrics]Series, thresholds [numMetrics]float64) ([numMetrics]check.Result, error) {
	var out [numMetrics]check.Result
	var decs [numMetrics]*stats.Decision
	over := 0
	for m := range numMetrics {
		s := series[m]
		r := check.Result{Layer: check.L4Perf, Check: m.String(), Source: s.Source,
			Threshold: thresholdText(m, thresholds[m])}
		out[m] = r
		if s.Skip != "" || len(s.Old) == 0 {
			continue
		}
		d, err := stats.Compare(s.Old, s.New, policy(m, thresholds[m]))
		if err != nil {
			return out, fmt.Errorf("%s: %w", m, err)
		}
		decs[m] = &d
		if d.Grade == stats.NOGO {
			over++
		}
	}
	for m := range numMetrics {
		s, r, d := series[m], &out[m], decs[m]
		data := &Data{Series: s, Decision: d}
		r.Data = data
		r.Tables = []check.Table{table(s)}
		left := leftOut(s)
		switch {
		case s.Skip != "":
			r.Status, r.Message = check.StatusSkipped, s.Skip
			continue
		case d == nil:
			r.Status = check.StatusInconclusive
			r.Message = fmt.Sprintf("no usable round: %s", left)
			continue
		}
		r.Measured = fmt.Sprintf("%s %s", num(d.New), s.Unit)
		r.Baseline = fmt.Sprintf("%s %s", num(d.Old), s.Unit)
		msg := d.Reason
		if left != "" {
			msg += "; " + left
		}
		if d.LogSD > MaxSpread && d.Grade != stats.INCONCLUSIVE {
			r.Status = check.StatusInconclusive
			r.Message = fmt.Sprintf("INCONCLUSIVE: the rounds are too noisy to trust (per-round spread %.0f %% > %.0f %%; the machine is probably too busy): %s",
				100*d.LogSD, 100*MaxSpread, msg)
			continue
		}
		switch d.Grade {
		case stats.GO:
			r.Status = check.StatusPass
		case stats.CAUTION:
			r.Status = check.StatusWarn
		case stats.INCONCLUSIVE:
			r.Status = check.StatusInconclusive
			msg = fmt.Sprintf("INCONCLUSIVE: %s; run about %d rounds (perf.rounds) to tell", msg, d.SuggestedRounds)
		case stats.NOGO:
			data.OverThreshold = true
			reg := math.Abs(d.DeltaPct)
			switch line := noGoPct(thresholds[m]); {
			case reg > line:
				r.Status = check.StatusFail
				msg = fmt.Sprintf("NO-GO: regressed %.1f %%, beyond the NO-GO line of %g %%; %s", reg, line, msg)
			case over > MaxOverThreshold:
				r.Status = check.StatusFail
				msg = fmt.Sprintf("NO-GO: %d metrics are over their thresholds (more than %d); %s", over, MaxOverThreshold, msg)
			default:
				r.Status = check.StatusWarn
				msg = fmt.Sprintf("CAUTION: over its %g %% threshold but within the NO-GO line of %g %%, and only %d metrics are over theirs; %s",
					thresholds[m], line, over, msg)
			}
		}
		r.Message = msg
	}
	return out, nil
}

// leftOut says which rounds were left out and why, "" for none.
func leftOut(s Series) string {
	var parts []string
	if s.Behind > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d rounds left out because the load generator fell behind its schedule (machine too busy)", s.Behind, s.Total))
	}
	if s.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d rounds left out: %s", s.Dropped, s.Total, s.DropWhy))
	}
	if len(parts) == 0 {
		if len(s.Old) == 0 {
			return "nothing was measured"
		}
		return ""
	}
	msg := parts[0]
	if len(parts) > 1 {
		msg += "; " + parts[1]
	}
	return msg
}

// thresholdText writes the rule judge applies to m at threshold pct, from the values judge uses:
// the GO band of policy, noGoPct and MaxOverThreshold.
func thresholdText(m Metric, pct float64) string {
	sign := "+"
	if m == Throughput {
		sign = "-"
	}
	p := policy(m, pct)
	rule := fmt.Sprintf("%s%.4g %% (GO within %s%.4g %%; NO-GO beyond %s%.4g %%", sign, 100*p.Threshold, sign, 100*p.GoBand, sign, noGoPct(pct))
	if noGoPct(pct) > pct {
		rule += fmt.Sprintf(", or beyond %s%g %% with more than %d metrics over theirs", sign, pct, MaxOverThreshold)
	}
	return rule + ")"
}

func table(s Series) check.Table {
	t := check.Table{Title: s.Metric.String() + " per round", Columns: []string{"round", "old " + s.Unit, "new " + s.Unit, "new/old"}}
	for i := range s.Old {
		ratio := "-"
		if s.Old[i] > 0 {
			ratio = fmt.Sprintf("%.3f", s.New[i]/s.Old[i])
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), num(s.Old[i]), num(s.New[i]), ratio})
	}
	t.Rows = append(t.Rows, s.Extra...)
	return t
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
