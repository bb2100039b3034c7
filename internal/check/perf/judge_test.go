package perf

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/stats"
)

// seedThresholds are DefaultPerf's, in metric order.
var seedThresholds = [numMetrics]float64{10, 10, 10, 5, 10, 5}

// rounds returns n paired values: OLD 100·(1+noise), NEW OLD·factor, with a fixed symmetric
// noise pattern of about ±spread (deterministic, so the answers are known).
func rounds(n int, factor, spread float64) (old, new []float64) {
	for i := range n {
		// Alternating signs and growing magnitude: a symmetric spread of NEW/OLD around factor.
		e := spread * float64(i%4+1) / 4
		if i%2 == 1 {
			e = -e
		}
		o := 100.0
		old = append(old, o)
		new = append(new, o*factor*math.Exp(e))
	}
	return old, new
}

// allGO is every metric measured over 14 rounds with NEW equal to OLD.
func allGO() [numMetrics]Series {
	var s [numMetrics]Series
	for m := range numMetrics {
		o, n := rounds(14, 1, 0.01)
		s[m] = Series{Metric: m, Unit: "u", Old: o, New: n, Total: 14}
	}
	return s
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name   string
		change func(*[numMetrics]Series)
		want   map[Metric]check.Status
		msg    map[Metric]string
	}{
		{name: "identical", change: func(*[numMetrics]Series) {},
			want: map[Metric]check.Status{ColdStart: check.StatusPass, LatencyP95: check.StatusPass, Throughput: check.StatusPass,
				RSS: check.StatusPass, CPUPerRequest: check.StatusPass, GCPause: check.StatusPass}},
		{name: "p95 +30 % is NO-GO",
			change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.3, 0.02) },
			want:   map[Metric]check.Status{LatencyP95: check.StatusFail, CPUPerRequest: check.StatusPass},
			msg:    map[Metric]string{LatencyP95: "beyond the NO-GO line of 10 %"}},
		{name: "p95 +14 % is NO-GO: past the seed's 10 %",
			change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.14, 0.01) },
			want:   map[Metric]check.Status{LatencyP95: check.StatusFail, CPUPerRequest: check.StatusPass},
			msg:    map[Metric]string{LatencyP95: "beyond the NO-GO line of 10 %"}},
		{name: "p95 +7 % is CAUTION within the threshold",
			change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.07, 0.005) },
			want:   map[Metric]check.Status{LatencyP95: check.StatusWarn},
			msg:    map[Metric]string{LatencyP95: "within the 10 % threshold"}},
		{name: "throughput down 30 % is NO-GO, up 30 % is GO",
			change: func(s *[numMetrics]Series) {
				s[Throughput].Old, s[Throughput].New = rounds(14, 0.7, 0.01)
				s[ColdStart].Old, s[ColdStart].New = rounds(14, 0.7, 0.01)
			},
			want: map[Metric]check.Status{Throughput: check.StatusFail, ColdStart: check.StatusPass}},
		{name: "RSS +7 % is past its 5 % threshold",
			change: func(s *[numMetrics]Series) { s[RSS].Old, s[RSS].New = rounds(14, 1.07, 0.005) },
			want:   map[Metric]check.Status{RSS: check.StatusWarn},
			msg:    map[Metric]string{RSS: "over its 5 % threshold but within the NO-GO line of 10 %"}},
		{name: "noisy rounds are inconclusive, not GO",
			change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(6, 1.0, 0.4) },
			want:   map[Metric]check.Status{LatencyP95: check.StatusInconclusive},
			msg:    map[Metric]string{LatencyP95: "INCONCLUSIVE"}},
		{name: "rounds too noisy to trust are inconclusive",
			change: func(s *[numMetrics]Series) { s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 0.6, 0.7) },
			want:   map[Metric]check.Status{LatencyP95: check.StatusInconclusive},
			msg:    map[Metric]string{LatencyP95: "too noisy to trust"}},
		{name: "too few rounds after leaving out the generator's",
			change: func(s *[numMetrics]Series) {
				s[LatencyP95].Old, s[LatencyP95].New = rounds(3, 1.0, 0.01)
				s[LatencyP95].Total, s[LatencyP95].Behind = 14, 11
			},
			want: map[Metric]check.Status{LatencyP95: check.StatusInconclusive},
			msg:  map[Metric]string{LatencyP95: "11 of 14 rounds left out because the load generator fell behind"}},
		{name: "every round left out",
			change: func(s *[numMetrics]Series) {
				s[CPUPerRequest].Old, s[CPUPerRequest].New = nil, nil
				s[CPUPerRequest].Total, s[CPUPerRequest].Behind = 14, 14
			},
			want: map[Metric]check.Status{CPUPerRequest: check.StatusInconclusive},
			msg:  map[Metric]string{CPUPerRequest: "no usable round: 14 of 14"}},
		{name: "not measured is skipped",
			change: func(s *[numMetrics]Series) { s[GCPause] = Series{Metric: GCPause, Skip: "no Prometheus endpoint"} },
			want:   map[Metric]check.Status{GCPause: check.StatusSkipped},
			msg:    map[Metric]string{GCPause: "no Prometheus endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := allGO()
			tt.change(&s)
			res, err := judge(s, seedThresholds)
			if err != nil {
				t.Fatal(err)
			}
			for m, want := range tt.want {
				r := res[m]
				if r.Status != want {
					t.Errorf("%s: status %s, want %s (%s)", m, r.Status, want, r.Message)
				}
				if sub := tt.msg[m]; sub != "" && !strings.Contains(r.Message, sub) {
					t.Errorf("%s: message %q lacks %q", m, r.Message, sub)
				}
				if r.Check != m.String() || r.Layer != check.L4Perf || r.Threshold == "" {
					t.Errorf("%s: result %+v lacks its name, layer or threshold", m, r)
				}
				if r.Status != check.StatusSkipped && len(s[m].Old) > 0 && (r.Measured == "" || r.Baseline == "") {
					t.Errorf("%s: no measured or baseline value", m)
				}
			}
		})
	}
}

func TestJudgeData(t *testing.T) {
	s := allGO()
	s[LatencyP95].Old, s[LatencyP95].New = rounds(14, 1.3, 0.02)
	res, err := judge(s, seedThresholds)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := res[LatencyP95].Data.(*Data)
	if !ok || d.Decision == nil {
		t.Fatalf("data %#v: want *Data with a decision", res[LatencyP95].Data)
	}
	if d.Decision.Grade != stats.NOGO || !d.OverThreshold || d.Decision.DeltaPct < 25 || d.Decision.DeltaPct > 35 {
		t.Errorf("decision %+v: want NO-GO at about +30 %%", d.Decision)
	}
	if d.Decision.CILowPct >= d.Decision.DeltaPct || d.Decision.CIHighPct <= d.Decision.DeltaPct {
		t.Errorf("interval %v … %v does not hold the estimate %v", d.Decision.CILowPct, d.Decision.CIHighPct, d.Decision.DeltaPct)
	}
	if rows := res[LatencyP95].Tables[0].Rows; len(rows) != 14 {
		t.Errorf("table has %d rows, want 14", len(rows))
	}
}

func TestJudgeBadSample(t *testing.T) {
	s := allGO()
	s[RSS].New[3] = 0
	if _, err := judge(s, seedThresholds); err == nil {
		t.Fatal("a zero value was judged")
	}
}

// TestJudgeMoreThanTwoOverThreshold: with tighter thresholds (a policy's 5 %), three metrics
// each +8 % — within 10 % — are NO-GO together, while two would be CAUTION.
func TestJudgeMoreThanTwoOverThreshold(t *testing.T) {
	tight := seedThresholds
	for _, m := range []Metric{LatencyP95, CPUPerRequest, ColdStart} {
		tight[m] = 5
	}
	for _, n := range []int{2, 3} {
		s := allGO()
		for _, m := range []Metric{LatencyP95, CPUPerRequest, ColdStart}[:n] {
			s[m].Old, s[m].New = rounds(14, 1.08, 0.005)
		}
		res, err := judge(s, tight)
		if err != nil {
			t.Fatal(err)
		}
		want, says := check.StatusWarn, "within the NO-GO line of 10 %"
		if n == 3 {
			want, says = check.StatusFail, "3 metrics are over"
		}
		if r := res[LatencyP95]; r.Status != want || !strings.Contains(r.Message, says) {
			t.Errorf("%d metrics at +8 %%: p95 %s %q, want %s with %q", n, r.Status, r.Message, want, says)
		}
	}
}

// TestThresholdTextIsTheRuleApplied reads the NO-GO line each result's threshold text states
// and judges a regression on either side of it: beyond it is NO-GO, short of it (yet past the
// metric's own threshold, with no other metric over) is CAUTION. The text once said "NO-GO
// beyond +20 %" while the judge failed past 10 %.
func TestThresholdTextIsTheRuleApplied(t *testing.T) {
	line := regexp.MustCompile(`NO-GO beyond [+-]([0-9.]+) %`)
	for _, pct := range []float64{5, 10, 15} {
		for _, m := range []Metric{LatencyP95, Throughput} {
			th := seedThresholds
			th[m] = pct
			res, err := judge(allGO(), th)
			if err != nil {
				t.Fatal(err)
			}
			text := res[m].Threshold
			sm := line.FindStringSubmatch(text)
			if sm == nil {
				t.Fatalf("%s at %g %%: threshold %q states no NO-GO line", m, pct, text)
			}
			noGo, _ := strconv.ParseFloat(sm[1], 64)
			if noGo < pct {
				t.Errorf("%s at %g %%: threshold %q puts the NO-GO line inside the threshold", m, pct, text)
			}
			for _, c := range []struct {
				delta float64
				want  check.Status
			}{{noGo + 4, check.StatusFail}, {noGo - 2, check.StatusWarn}} {
				if c.delta <= pct {
					continue // within the threshold: not a question of the NO-GO line
				}
				factor := 1 + c.delta/100
				if m == Throughput {
					factor = 1 - c.delta/100
				}
				s := allGO()
				s[m].Old, s[m].New = rounds(14, factor, 0.005)
				res, err := judge(s, th)
				if err != nil {
					t.Fatal(err)
				}
				if got := res[m].Status; got != c.want {
					t.Errorf("%s at %g %% regressed %g %%: %s, want %s by the stated rule %q (%s)", m, pct, c.delta, got, c.want, text, res[m].Message)
				}
			}
		}
	}
}
