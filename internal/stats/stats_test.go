package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func repeat(v float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// scaled returns base[i]·f[i%len(f)].
func scaled(base []float64, f ...float64) []float64 {
	s := make([]float64, len(base))
	for i := range base {
		s[i] = base[i] * f[i%len(f)]
	}
	return s
}

func TestCompareTable(t *testing.T) {
	old12 := []float64{3.1, 2.2, 4.0, 1.5, 2.8, 3.3, 2.0, 5.1, 2.6, 3.9, 1.8, 2.4}
	for _, tc := range []struct {
		name     string
		old, new []float64
		policy   Policy
		outcome  Outcome
		grade    Grade
		ratio    float64 // 0: not checked
		suggest  bool
	}{
		{"identical", old12, old12, Policy{}, Pass, GO, 1, false},
		{"2 % slower, tight", old12, scaled(old12, 1.01, 1.03), Policy{}, Pass, GO, 1.02, false},
		{"7 % slower, tight", old12, scaled(old12, 1.06, 1.08), Policy{}, Regressed, CAUTION, 1.07, false},
		{"7 % slower, not significant", old12[:6], scaled(old12[:6], 0.9, 1.07, 1.07, 1.07, 1.07, 1.07), Policy{}, Pass, CAUTION, 1.07, false},
		{"7 % slower, bimodal", old12, scaled(old12, 0.98, 1.16), Policy{}, Inconclusive, INCONCLUSIVE, 0, true},
		{"15 % slower", old12, scaled(old12, 1.13, 1.17), Policy{}, Regressed, NOGO, 1.15, false},
		{"10 % faster", old12, scaled(old12, 0.89, 0.91), Policy{}, Pass, GO, 0.9, false},
		{"noisy", old12, scaled(old12, 0.75, 1.35, 1.0, 1.2, 0.85), Policy{}, Inconclusive, INCONCLUSIVE, 0, true},
		{"too few rounds", old12[:4], scaled(old12[:4], 1.5), Policy{}, Inconclusive, INCONCLUSIVE, 1.5, true},
		{"throughput 15 % lower", old12, scaled(old12, 0.84, 0.86), Policy{HigherIsBetter: true}, Regressed, NOGO, 0.85, false},
		{"throughput 15 % higher", old12, scaled(old12, 1.14, 1.16), Policy{HigherIsBetter: true}, Pass, GO, 1.15, false},
		{"throughput 7 % lower", old12, scaled(old12, 0.92, 0.94), Policy{HigherIsBetter: true}, Regressed, CAUTION, 0.93, false},
		{"latency 15 % slower, 20 % threshold", old12, scaled(old12, 1.14, 1.16), Policy{Threshold: 0.2, GoBand: 0.1}, Regressed, CAUTION, 1.15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Compare(tc.old, tc.new, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.outcome || d.Grade != tc.grade {
				t.Errorf("outcome %v grade %v, want %v %v (%s)", d.Outcome, d.Grade, tc.outcome, tc.grade, d.Reason)
			}
			if tc.ratio != 0 && math.Abs(d.Ratio-tc.ratio) > 0.006 {
				t.Errorf("ratio %v, want ≈%v", d.Ratio, tc.ratio)
			}
			if (d.SuggestedRounds > 0) != tc.suggest {
				t.Errorf("suggested rounds %d, want suggestion: %v", d.SuggestedRounds, tc.suggest)
			}
			if d.SuggestedRounds > 0 && d.SuggestedRounds <= d.Rounds {
				t.Errorf("suggested %d rounds, already had %d", d.SuggestedRounds, d.Rounds)
			}
			if d.Confidence > 0 && !(d.CILowPct <= d.DeltaPct && d.DeltaPct <= d.CIHighPct) {
				t.Errorf("estimate %v outside its interval [%v, %v]", d.DeltaPct, d.CILowPct, d.CIHighPct)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

func TestCompareReportsFigures(t *testing.T) {
	old := []float64{10, 20, 30, 40, 50, 60}
	d, err := Compare(old, scaled(old, 1.2), Policy{HigherIsBetter: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Old != 35 || math.Abs(d.New-42) > 1e-9 || math.Abs(d.DeltaPct-20) > 1e-9 ||
		math.Abs(d.CILowPct-20) > 1e-9 || math.Abs(d.CIHighPct-20) > 1e-9 || d.LogSD > 1e-12 {
		t.Errorf("figures: %+v", d)
	}
	if d.ThresholdPct != -10 || d.GoBandPct != -5 || math.Abs(d.Confidence-(1-2*3.0/64)) > 1e-12 {
		t.Errorf("policy lines %v/%v, confidence %v", d.ThresholdPct, d.GoBandPct, d.Confidence)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != d || !strings.Contains(string(b), `"grade":"go"`) || !strings.Contains(string(b), `"outcome":"pass"`) {
		t.Errorf("JSON round trip: %s", b)
	}
}

func TestCompareErrors(t *testing.T) {
	ok := repeat(1, 6)
	for _, tc := range []struct {
		name     string
		old, new []float64
		policy   Policy
		want     error
	}{
		{"empty", nil, nil, Policy{}, ErrNoData},
		{"lengths", ok, ok[:5], Policy{}, ErrBadSample},
		{"zero", ok, append(repeat(1, 5), 0), Policy{}, ErrBadSample},
		{"negative", append(repeat(1, 5), -1), ok, Policy{}, ErrBadSample},
		{"NaN", append(repeat(1, 5), math.NaN()), ok, Policy{}, ErrBadSample},
		{"Inf", ok, append(repeat(1, 5), math.Inf(1)), Policy{}, ErrBadSample},
		{"threshold negative", ok, ok, Policy{Threshold: -0.1}, ErrBadPolicy},
		{"threshold NaN", ok, ok, Policy{Threshold: math.NaN()}, ErrBadPolicy},
		{"throughput threshold 100 %", ok, ok, Policy{Threshold: 1, GoBand: 0.05, HigherIsBetter: true}, ErrBadPolicy},
		{"band above threshold", ok, ok, Policy{Threshold: 0.1, GoBand: 0.2}, ErrBadPolicy},
		{"alpha", ok, ok, Policy{Alpha: 0.6}, ErrBadPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compare(tc.old, tc.new, tc.policy); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Compare(ok, ok, Policy{Threshold: 1.5, GoBand: 0.5}); err != nil {
		t.Errorf("a 150 %% latency threshold is valid: %v", err)
	}
}

func TestEnumsText(t *testing.T) {
	for _, g := range []Grade{GO, CAUTION, NOGO, INCONCLUSIVE} {
		b, _ := g.MarshalText()
		var back Grade
		if err := back.UnmarshalText(b); err != nil || back != g {
			t.Errorf("grade %v: %s → %v, %v", g, b, back, err)
		}
	}
	for _, o := range []Outcome{Pass, Regressed, Inconclusive} {
		b, _ := o.MarshalText()
		var back Outcome
		if err := back.UnmarshalText(b); err != nil || back != o {
			t.Errorf("outcome %v: %s → %v, %v", o, b, back, err)
		}
	}
	var g Grade
	if err := g.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("unknown grade accepted")
	}
	if s := Grade(9).String(); s != "grade(9)" {
		t.Errorf("Grade(9) = %q", s)
	}
}

func TestSuggestRounds(t *testing.T) {
	for _, tc := range []struct {
		sd       float64
		policy   Policy
		min, max int
	}{
		{0, Policy{}, 5, 5},
		{math.NaN(), Policy{}, 5, 5},
		{0.01, Policy{}, 5, 5},
		{0.09, Policy{}, 12, 15}, // perf-anchors.md §2c: the p95 ratio's per-round spread
		{0.17, Policy{}, 35, 45}, // the worst pair order there
		{0.09, Policy{Threshold: 0.2, GoBand: 0.1}, 4, 6},
		{0.09, Policy{Alpha: 0.01}, 20, 30},
		{50, Policy{}, maxSuggested, maxSuggested},
		{0.09, Policy{GoBand: 1}, 5, 5}, // invalid policy
	} {
		if n := SuggestRounds(tc.sd, tc.policy); n < tc.min || n > tc.max {
			t.Errorf("SuggestRounds(%v, %+v) = %d, want %d..%d", tc.sd, tc.policy, n, tc.min, tc.max)
		}
	}
}

// simulate draws trials of n paired rounds. Each round has a common factor shared by both sides
// (the machine's regime; 40 % log-SD like the p95 of one 5-s run in perf-anchors.md §2a) and
// independent noise per side, such that ln(NEW/OLD) has standard deviation sd around
// ln(1+shift); tails > 0 draws the per-side noise from Student's t with that many degrees of
// freedom (heavier tails) instead of the normal; position adds ±position to the NEW side's
// log on alternating rounds (the order effect of §2c). It returns the decisions.
func simulate(t *testing.T, seed uint64, trials, n int, sd, shift float64, tails int, position float64, p Policy) []Decision {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	side := sd / math.Sqrt2
	noise := func() float64 {
		if tails == 0 {
			return rng.NormFloat64()
		}
		// Student's t scaled to unit variance.
		z, chi := rng.NormFloat64(), 0.0
		for range tails {
			g := rng.NormFloat64()
			chi += g * g
		}
		return z / math.Sqrt(chi/float64(tails)) * math.Sqrt(float64(tails-2)/float64(tails))
	}
	out := make([]Decision, trials)
	for k := range out {
		old, nw := make([]float64, n), make([]float64, n)
		for i := range n {
			common := 2000 * math.Exp(0.4*rng.NormFloat64())
			pos := position
			if i%2 == 1 {
				pos = -position
			}
			old[i] = common * math.Exp(side*noise())
			nw[i] = common * (1 + shift) * math.Exp(side*noise()+pos)
		}
		d, err := Compare(old, nw, p)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = d
	}
	return out
}

type tally struct{ pass, regressed, inconclusive, gogo, caution, nogo int }

func count(ds []Decision) tally {
	var c tally
	for _, d := range ds {
		switch d.Outcome {
		case Pass:
			c.pass++
		case Regressed:
			c.regressed++
		case Inconclusive:
			c.inconclusive++
		}
		switch d.Grade {
		case GO:
			c.gogo++
		case CAUTION:
			c.caution++
		case NOGO:
			c.nogo++
		}
	}
	return c
}

// calibratedRounds is the number of paired rounds at which, with the per-round spread of the
// p95 ratio measured on this machine (≈9 %, perf-anchors.md §2c), identical images pass and a
// +10 % regression is caught, each in ≥ 95 % of runs. load.RoundsConfig defaults to it.
const calibratedRounds = 14

const calibratedSD = 0.09

func TestCalibrationAtMeasuredNoise(t *testing.T) {
	const trials = 1000
	same := count(simulate(t, 1, trials, calibratedRounds, calibratedSD, 0, 0, 0, Policy{}))
	if same.gogo < 950 || same.regressed > 50 {
		t.Errorf("identical, 9 %% noise, %d rounds: %+v; want GO ≥ 95 %%, Regressed ≤ 5 %%", calibratedRounds, same)
	}
	slower := count(simulate(t, 2, trials, calibratedRounds, calibratedSD, 0.10, 0, 0, Policy{}))
	if slower.regressed < 950 || slower.pass > 50 {
		t.Errorf("+10 %%, 9 %% noise, %d rounds: %+v; want Regressed ≥ 95 %%, Pass ≤ 5 %%", calibratedRounds, slower)
	}
	// At the threshold the grade follows the estimate: about half NO-GO, the rest CAUTION.
	if slower.nogo < 400 || slower.nogo > 600 || slower.caution < 350 {
		t.Errorf("+10 %% grades: %+v; want NO-GO ≈ 50 %%, most others CAUTION", slower)
	}
	t.Logf("9 %% noise, %d rounds: identical %+v; +10 %% %+v", calibratedRounds, same, slower)
}

// With fewer rounds the same noise leaves more runs undecided, never more wrong ones: this is
// the table the calibration was read from.
func TestCalibrationByRounds(t *testing.T) {
	prevInc := 1001
	for _, n := range []int{6, 8, 10, 12, 14, 16} {
		same := count(simulate(t, 3, 1000, n, calibratedSD, 0, 0, 0, Policy{}))
		slower := count(simulate(t, 4, 1000, n, calibratedSD, 0.10, 0, 0, Policy{}))
		t.Logf("n=%2d identical: GO %4d regressed %3d inconclusive %3d | +10 %%: regressed %4d pass %3d inconclusive %3d",
			n, same.gogo, same.regressed, same.inconclusive, slower.regressed, slower.pass, slower.inconclusive)
		if same.regressed > 50 || slower.pass > 60 {
			t.Errorf("n=%d: wrong decisions: identical regressed %d, +10 %% passed %d (of 1000)", n, same.regressed, slower.pass)
		}
		inc := same.inconclusive + slower.inconclusive
		if inc >= prevInc {
			t.Errorf("n=%d: %d inconclusive, not fewer than with fewer rounds (%d)", n, inc, prevInc)
		}
		prevInc = inc
	}
}

// More noise than the rounds can resolve: the decision must say so rather than guess.
func TestTooNoisyIsInconclusive(t *testing.T) {
	const sd = 0.20
	mid := count(simulate(t, 5, 1000, calibratedRounds, sd, 0.05, 0, 0, Policy{}))
	if mid.inconclusive < 550 {
		t.Errorf("20 %% noise, +5 %%: %+v; want mostly inconclusive", mid)
	}
	same := count(simulate(t, 6, 1000, calibratedRounds, sd, 0, 0, 0, Policy{}))
	slower := count(simulate(t, 7, 1000, calibratedRounds, sd, 0.10, 0, 0, Policy{}))
	// ≤ 5 %, plus two standard errors of a rate estimated from 1000 trials.
	if same.regressed > 65 || slower.pass > 65 {
		t.Errorf("20 %% noise: identical regressed %d, +10 %% passed %d (of 1000); want ≤ 5 %% each", same.regressed, slower.pass)
	}
	if same.inconclusive < 400 || slower.inconclusive < 400 {
		t.Errorf("20 %% noise: inconclusive %d (identical), %d (+10 %%); want ≥ 40 %%", same.inconclusive, slower.inconclusive)
	}
	// (0.20/0.09)² ≈ 4.9× the 13 rounds that 9 % needs; the spread estimated from 14 rounds
	// scatters by ≈ ±20 %, so the median suggestion must be at least 3× that.
	var sugg []float64
	for _, d := range simulate(t, 8, 200, calibratedRounds, sd, 0.05, 0, 0, Policy{}) {
		if d.Outcome == Inconclusive {
			sugg = append(sugg, float64(d.SuggestedRounds))
		}
	}
	if m := median(sugg); m < 3*13 || m > 8*13 {
		t.Errorf("20 %% noise: median suggestion %v rounds, want ≈ 64", m)
	}
}

// The rule must keep its error rates when the noise has heavy tails and when the position of
// the targets in each pair matters (perf-anchors.md §2c saw a few %).
func TestRobustToTailsAndPosition(t *testing.T) {
	heavy := count(simulate(t, 9, 1000, calibratedRounds, calibratedSD, 0, 3, 0, Policy{}))
	if heavy.regressed > 50 || heavy.gogo < 900 {
		t.Errorf("t(3) noise, identical: %+v", heavy)
	}
	heavySlow := count(simulate(t, 10, 1000, calibratedRounds, calibratedSD, 0.10, 3, 0, Policy{}))
	if heavySlow.regressed < 900 || heavySlow.pass > 50 {
		t.Errorf("t(3) noise, +10 %%: %+v", heavySlow)
	}
	pos := count(simulate(t, 11, 1000, calibratedRounds, calibratedSD, 0, 0, 0.03, Policy{}))
	if pos.regressed > 50 || pos.gogo < 930 {
		t.Errorf("±3 %% position effect, identical: %+v", pos)
	}
}

// At the rounds SuggestRounds asks for, runs are decided.
func TestSuggestedRoundsDecide(t *testing.T) {
	for _, sd := range []float64{0.05, 0.09, 0.17} {
		n := SuggestRounds(sd, Policy{})
		for i, shift := range []float64{0, 0.05, 0.075, 0.10, 0.15} {
			c := count(simulate(t, 20+uint64(i), 300, n, sd, shift, 0, 0, Policy{}))
			if c.inconclusive > 45 {
				t.Errorf("sd %.2f, %d suggested rounds, shift %+.3f: %d of 300 inconclusive", sd, n, shift, c.inconclusive)
			}
		}
	}
}

// Throughput runs the same rule mirrored: a 10 % drop is caught, identical passes.
func TestCalibrationThroughput(t *testing.T) {
	p := Policy{HigherIsBetter: true}
	same := count(simulate(t, 30, 1000, calibratedRounds, calibratedSD, 0, 0, 0, p))
	drop := count(simulate(t, 31, 1000, calibratedRounds, calibratedSD, -0.10, 0, 0, p))
	if same.gogo < 950 || drop.regressed < 950 {
		t.Errorf("throughput: identical %+v, −10 %% %+v", same, drop)
	}
}

func FuzzCompare(f *testing.F) {
	f.Add(1.0, 1.1, 0.9, 1.2, 1.0, 1.05, 0.1, 0.05, false)
	f.Add(1e-300, 1e300, 5.0, 5.0, 3.0, 3.0, 0.5, 0.1, true)
	f.Add(0.0, -1.0, math.NaN(), math.Inf(1), 1.0, 1.0, 0.0, 0.0, false)
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g, thr, band float64, higher bool) {
		old := []float64{a, c, e, a, c, e}
		nw := []float64{b, d, g, d, g, b}
		dec, err := Compare(old, nw, Policy{Threshold: thr, GoBand: band, HigherIsBetter: higher})
		if err != nil {
			return
		}
		for _, v := range []float64{dec.Ratio, dec.DeltaPct, dec.CILowPct, dec.CIHighPct, dec.LogSD, dec.Old, dec.New} {
			if math.IsNaN(v) {
				t.Fatalf("NaN in %+v", dec)
			}
		}
		if _, err := json.Marshal(dec); err != nil && !math.IsInf(dec.Ratio, 0) && !math.IsInf(dec.CIHighPct, 0) {
			t.Fatalf("decision does not marshal: %v", err)
		}
		if dec.Grade < GO || dec.Grade > INCONCLUSIVE || dec.Outcome < Pass || dec.Outcome > Inconclusive {
			t.Fatalf("bad decision %+v", dec)
		}
	})
}
