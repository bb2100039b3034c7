package perf

import (
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
)

// TestWithin: a major plan's "all metrics within 15 % of baseline" holds on every metric,
// whatever the policy's own thresholds say: at thresholds of 40 %, a p95 18 % slower (or a
// throughput 18 % lower) is GO for its own check but NO-GO for the rule.
func TestWithin(t *testing.T) {
	wide := [numMetrics]float64{40, 40, 40, 40, 40, 40}
	for _, tc := range []struct {
		name   string
		change func(*[numMetrics]Series)
		want   check.Status
		says   string
	}{
		{name: "all equal", change: func(*[numMetrics]Series) {}, want: check.StatusPass, says: "every measured metric is within 15 %"},
		{name: "p95 +10 %", change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.10, 0.005) },
			want: check.StatusPass, says: "within 15 %"},
		{name: "p95 +18 %", change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.18, 0.005) },
			want: check.StatusFail, says: "latency-p95 +1"},
		{name: "throughput -18 %", change: func(s *[numMetrics]Series) { s[Throughput].Old, s[Throughput].New = rounds(14, 0.82, 0.005) },
			want: check.StatusFail, says: "throughput +1"},
		{name: "throughput +18 % is better", change: func(s *[numMetrics]Series) { s[Throughput].Old, s[Throughput].New = rounds(14, 1.18, 0.005) },
			want: check.StatusPass},
		{name: "p95 +25 % in noisy rounds", change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(6, 1.25, 0.3) },
			want: check.StatusWarn, says: "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := allGO()
			tc.change(&s)
			res, err := judge(s, wide)
			if err != nil {
				t.Fatal(err)
			}
			r := within(res, 15)
			if r.Status != tc.want || !strings.Contains(r.Message, tc.says) {
				t.Errorf("got %s %q, want %s saying %q", r.Status, r.Message, tc.want, tc.says)
			}
			if r.Layer != check.L4Perf || r.Check != WithinCheckName || r.Measured == "" || r.Baseline == "" || !strings.Contains(r.Threshold, "15 %") {
				t.Errorf("result %+v lacks its layer, name, measured value, baseline or threshold", r)
			}
			if tc.want == check.StatusFail && (res[LatencyP95].Status == check.StatusFail || res[Throughput].Status == check.StatusFail) {
				t.Errorf("the metric's own check failed too: the test does not show the rule at work")
			}
		})
	}
}

// TestNewAddsWithinOnlyWhenAsked: the rule's check is there for a plan that has the rule.
func TestNewAddsWithinOnlyWhenAsked(t *testing.T) {
	if n := len(New(nil, nil, config.App{}, config.Perf{}, "x")); n != int(numMetrics) {
		t.Errorf("%d checks without the rule, want %d", n, numMetrics)
	}
	cs := New(nil, nil, config.App{}, config.Perf{}, "x", MetricsWithin(15))
	if len(cs) != int(numMetrics)+1 || cs[len(cs)-1].Name() != WithinCheckName {
		t.Errorf("checks with the rule: %d, last %q", len(cs), cs[len(cs)-1].Name())
	}
}
