// Package stats decides whether NEW regressed against OLD from paired rounds: in each round
// internal/load measured both images at the same time (alternating requests), so the per-round
// ratio r_i = NEW_i/OLD_i cancels the machine's common noise, and only the ratios are judged.
//
// # Method
//
// The ratios are analysed on the log scale, x_i = ln r_i, where a slowdown and a speed-up of
// the same factor are symmetric. The estimate is the Hodges–Lehmann estimator (the median of
// the Walsh averages (x_i+x_j)/2) and the interval is the exact Wilcoxon signed-rank confidence
// interval that belongs to it, both transformed back to a ratio. This was chosen over
//
//   - a t-interval on the mean log-ratio: one disturbed round (perf-anchors.md §2c saw a single
//     1.78 among ratios of 0.9–1.1) moves the mean and inflates the standard deviation; the
//     signed-rank interval assumes only a symmetric distribution of x and is robust to it, at
//     95.5 % of the t-interval's efficiency when x is normal;
//   - a bootstrap interval: with 5–15 rounds the percentile bootstrap covers noticeably less than
//     its nominal level, and its answer depends on a random seed;
//   - a sign-test interval on the median: valid without symmetry but only 64 % efficient, i.e.
//     ~1.5× the rounds for the same width.
//
// The interval has level 1−2α (α = 0.05: 90 %), so each bound is a one-sided 95 % bound. It is
// exact for n ≤ 200 rounds (the null distribution is enumerated) and needs n ≥ log₂(1/α)
// (5 rounds at α = 0.05); with fewer rounds no interval exists and the outcome is Inconclusive.
//
// # Decision
//
// With the NO-GO threshold t (default 10 %) and the GO band g (default 5 %), regression measured
// as a fraction of OLD, and [L, U] the interval of the regression factor:
//
//   - Regressed: L > 1 and estimate > 1+g — NEW is significantly worse than OLD (one-sided 5 %)
//     and by more than the GO band. Grade NO-GO when the estimate exceeds 1+t, else CAUTION.
//   - Pass: not Regressed and U < 1+t — NEW is, with 95 % confidence, less than t worse. Grade
//     GO when the estimate is within 1+g, else CAUTION.
//   - Inconclusive: neither — the interval still reaches past 1+t and the data do not show a
//     regression beyond g. SuggestedRounds says how many rounds, at the observed spread, make the
//     interval narrow enough to decide.
//
// Why not "Regressed only when L > 1+g": at the per-round spread measured on this machine
// (≈9 % log-SD of the p95 ratio, perf-anchors.md §2c) a true +10 % regression would clear that
// bar in 95 % of runs only with ≈35 rounds. Requiring significance (L > 1) plus a practically
// relevant estimate (> 1+g) reaches 95 % with 14 rounds (see the simulation tests), while
// identical images still Pass in ≥ 95 % of runs. An effect exactly at the threshold is graded
// NO-GO or CAUTION about half the time each, as it must be: the grade follows the estimate, the
// outcome follows the evidence.
//
// The decision is deterministic (no random numbers), and it needs no A/A calibration run: the
// interval is built from the rounds' own spread. Swap the order of the two targets between
// rounds (internal/load does) so that a position effect averages out, and use an even number of
// rounds.
package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Errors callers branch on.
var (
	ErrNoData    = errors.New("stats: no rounds")
	ErrBadSample = errors.New("stats: bad sample")
	ErrBadPolicy = errors.New("stats: bad policy")
)

// Policy is what counts as a regression. Zero fields take the defaults in brackets.
type Policy struct {
	// Threshold is the NO-GO line: a regression by more than this fraction of OLD [0.10].
	Threshold float64 `json:"threshold"`
	// GoBand is the GO line: a regression within this fraction of OLD is GO [0.05]. It must be
	// below Threshold.
	GoBand float64 `json:"go_band"`
	// Alpha is the error rate of each one-sided bound: the interval has level 1−2·Alpha [0.05].
	Alpha float64 `json:"alpha"`
	// HigherIsBetter marks metrics such as throughput: there a regression by f is NEW = OLD·(1−f).
	// Otherwise (latency, memory, start time) it is NEW = OLD·(1+f).
	HigherIsBetter bool `json:"higher_is_better"`
}

// DefaultPolicy is the seed's: GO below 5 % regression, CAUTION 5–10 %, NO-GO above 10 %, 90 %
// interval, lower is better.
func DefaultPolicy() Policy { return Policy{Threshold: 0.10, GoBand: 0.05, Alpha: 0.05} }

func (p Policy) withDefaults() (Policy, error) {
	d := DefaultPolicy()
	if p.Threshold == 0 {
		p.Threshold = d.Threshold
	}
	if p.GoBand == 0 {
		p.GoBand = d.GoBand
	}
	if p.Alpha == 0 {
		p.Alpha = d.Alpha
	}
	switch {
	case !(p.Threshold > 0) || math.IsInf(p.Threshold, 0) || (p.HigherIsBetter && p.Threshold >= 1):
		return p, fmt.Errorf("%w: threshold %v must be above 0 (and below 1 when higher is better)", ErrBadPolicy, p.Threshold)
	case !(p.GoBand > 0 && p.GoBand < p.Threshold):
		return p, fmt.Errorf("%w: GO band %v must be above 0 and below the threshold %v", ErrBadPolicy, p.GoBand, p.Threshold)
	case !(p.Alpha > 0 && p.Alpha < 0.5):
		return p, fmt.Errorf("%w: alpha %v must be in (0, 0.5)", ErrBadPolicy, p.Alpha)
	}
	return p, nil
}

// logLine returns ln of the ratio NEW/OLD at which the regression is the fraction f, oriented so
// that a regression is positive.
func (p Policy) logLine(f float64) float64 {
	if p.HigherIsBetter {
		return -math.Log1p(-f)
	}
	return math.Log1p(f)
}

// minRounds is the fewest rounds for which an interval of level 1−2α exists (2⁻ⁿ ≤ α).
func (p Policy) minRounds() int { return int(math.Ceil(math.Log2(1 / p.Alpha))) }

// Outcome is what the evidence shows.
type Outcome int

// Outcomes.
const (
	Pass         Outcome = iota // NEW is, with confidence, less than Threshold worse
	Regressed                   // NEW is significantly worse, by more than GoBand
	Inconclusive                // the interval is too wide to tell at Threshold
)

var outcomeNames = [...]string{"pass", "regressed", "inconclusive"}

func (o Outcome) String() string { return enumName(outcomeNames[:], int(o), "outcome") }

// MarshalText writes the outcome by name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome written by MarshalText.
func (o *Outcome) UnmarshalText(b []byte) error {
	i, err := enumParse(outcomeNames[:], string(b), "outcome")
	*o = Outcome(i)
	return err
}

// Grade is the seed's verdict for one metric.
type Grade int

// Grades, from best to worst.
const (
	GO           Grade = iota // regression below GoBand (or an improvement)
	CAUTION                   // regression between GoBand and Threshold
	NOGO                      // significant regression, estimated above Threshold
	INCONCLUSIVE              // too noisy to tell
)

var gradeNames = [...]string{"go", "caution", "no-go", "inconclusive"}

func (g Grade) String() string { return enumName(gradeNames[:], int(g), "grade") }

// MarshalText writes the grade by name.
func (g Grade) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText reads a grade written by MarshalText.
func (g *Grade) UnmarshalText(b []byte) error {
	i, err := enumParse(gradeNames[:], string(b), "grade")
	*g = Grade(i)
	return err
}

func enumName(names []string, i int, kind string) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("%s(%d)", kind, i)
	}
	return names[i]
}

func enumParse(names []string, s, kind string) (int, error) {
	if i := slices.Index(names, s); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("unknown %s %q", kind, s)
}

// Decision is the verdict-ready comparison of one metric over paired rounds. Ratios are
// NEW/OLD; percentages are (ratio−1)·100, so −8 means NEW is 8 % below OLD.
type Decision struct {
	Rounds int `json:"rounds"`
	// Old and New are the medians of the per-round values, for display; the decision uses only
	// the per-round ratios.
	Old float64 `json:"old"`
	New float64 `json:"new"`
	// Ratio is the Hodges–Lehmann estimate of NEW/OLD; DeltaPct the same as a change in percent.
	Ratio    float64 `json:"ratio"`
	DeltaPct float64 `json:"delta_pct"`
	// CILowPct and CIHighPct bound DeltaPct with the level Confidence (≥ 1−2·Alpha, as the
	// signed-rank distribution is discrete). Confidence is 0 when there were too few rounds for
	// any interval; the bounds are then 0 and mean nothing.
	CILowPct   float64 `json:"ci_low_pct"`
	CIHighPct  float64 `json:"ci_high_pct"`
	Confidence float64 `json:"confidence"`
	// ThresholdPct and GoBandPct are the policy's lines as signed changes (+10/+5 for latency,
	// −10/−5 for throughput).
	ThresholdPct float64 `json:"threshold_pct"`
	GoBandPct    float64 `json:"go_band_pct"`
	// LogSD is the standard deviation of ln(ratio) over the rounds: the per-round noise (0.09 ≈
	// 9 %). It is 0 for fewer than two rounds.
	LogSD   float64 `json:"log_sd"`
	Outcome Outcome `json:"outcome"`
	Grade   Grade   `json:"grade"`
	// SuggestedRounds is set when the outcome is Inconclusive: the rounds that, at LogSD, make
	// the interval narrow enough that every estimate leads to a decision.
	SuggestedRounds int `json:"suggested_rounds,omitempty"`
	// Reason says in one line why the grade is what it is.
	Reason string `json:"reason"`
}

// Compare judges the paired rounds: oldVals[i] and newVals[i] were measured in the same round.
// Every value must be finite and positive.
func Compare(oldVals, newVals []float64, p Policy) (Decision, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Decision{}, err
	}
	if len(oldVals) != len(newVals) {
		return Decision{}, fmt.Errorf("%w: OLD has %d rounds, NEW %d", ErrBadSample, len(oldVals), len(newVals))
	}
	n := len(oldVals)
	if n == 0 {
		return Decision{}, ErrNoData
	}
	x := make([]float64, n)
	for i := range n {
		o, nv := oldVals[i], newVals[i]
		if !(o > 0 && nv > 0) || math.IsInf(o, 0) || math.IsInf(nv, 0) {
			return Decision{}, fmt.Errorf("%w: round %d: OLD %v, NEW %v (need finite values > 0)", ErrBadSample, i, o, nv)
		}
		x[i] = math.Log(nv) - math.Log(o)
	}
	d := Decision{
		Rounds:       n,
		Old:          median(oldVals),
		New:          median(newVals),
		ThresholdPct: signedPct(p, p.Threshold),
		GoBandPct:    signedPct(p, p.GoBand),
		LogSD:        stddev(x),
	}
	w := walsh(x)
	est := hodgesLehmann(w)
	d.Ratio = math.Exp(est)
	d.DeltaPct = pct(est)

	lo, hi, conf, ok := signedRankCI(n, w, p.Alpha)
	if !ok {
		d.Outcome, d.Grade = Inconclusive, INCONCLUSIVE
		d.SuggestedRounds = max(SuggestRounds(d.LogSD, p), p.minRounds())
		d.Reason = fmt.Sprintf("%+.1f %% over %d rounds: at least %d rounds are needed for a %.0f %% interval",
			d.DeltaPct, n, p.minRounds(), 100*(1-2*p.Alpha))
		return d, nil
	}
	d.CILowPct, d.CIHighPct, d.Confidence = pct(lo), pct(hi), conf

	// Orient so that a regression is positive.
	oEst, oLo, oHi := est, lo, hi
	if p.HigherIsBetter {
		oEst, oLo, oHi = -est, -hi, -lo
	}
	T, G := p.logLine(p.Threshold), p.logLine(p.GoBand)
	ci := fmt.Sprintf("%+.1f %% (%.0f %% CI %+.1f %% … %+.1f %%, %d rounds, per-round spread %.1f %%)",
		d.DeltaPct, 100*conf, d.CILowPct, d.CIHighPct, n, 100*d.LogSD)
	switch {
	case oLo > 0 && oEst > G:
		d.Outcome = Regressed
		if oEst > T {
			d.Grade = NOGO
			d.Reason = fmt.Sprintf("%s: significant regression, estimated beyond the %.0f %% NO-GO threshold", ci, 100*p.Threshold)
		} else {
			d.Grade = CAUTION
			d.Reason = fmt.Sprintf("%s: significant regression beyond the %.0f %% GO band, estimated within the %.0f %% threshold", ci, 100*p.GoBand, 100*p.Threshold)
		}
	case oHi < T:
		d.Outcome = Pass
		if oEst <= G {
			d.Grade = GO
			d.Reason = fmt.Sprintf("%s: confidently below the %.0f %% threshold, estimated within the %.0f %% GO band", ci, 100*p.Threshold, 100*p.GoBand)
		} else {
			d.Grade = CAUTION
			d.Reason = fmt.Sprintf("%s: confidently below the %.0f %% threshold, but estimated beyond the %.0f %% GO band", ci, 100*p.Threshold, 100*p.GoBand)
		}
	default:
		d.Outcome, d.Grade = Inconclusive, INCONCLUSIVE
		d.SuggestedRounds = max(SuggestRounds(d.LogSD, p), n+1)
		d.Reason = fmt.Sprintf("%s: the interval reaches past the %.0f %% threshold and shows no significant regression beyond %.0f %%; about %d rounds would decide",
			ci, 100*p.Threshold, 100*p.GoBand, d.SuggestedRounds)
	}
	return d, nil
}

// maxSuggested caps SuggestRounds.
const maxSuggested = 10000

// SuggestRounds returns how many paired rounds make a decision under p likely when the per-round
// log-ratio has standard deviation logSD (0.09 for the p95 ratio measured in perf-anchors.md
// §2c): the fewest rounds for which the expected half-width of the interval is below
// min(T−G, T/2) on the log scale (T, G the threshold and the GO band). At that width every
// estimate leads to Pass or Regressed. The half-width is approximated as
// t₁₋α,ₙ₋₁ · logSD · √(π/3) / √n (a t-interval widened by the signed-rank interval's efficiency
// under normality). It returns at least the minimum for an interval (5 at α = 0.05), at most
// 10000, and the minimum for an invalid policy or a logSD that is not a positive number.
func SuggestRounds(logSD float64, p Policy) int {
	p, err := p.withDefaults()
	if err != nil {
		return DefaultPolicy().minRounds()
	}
	nmin := p.minRounds()
	if !(logSD > 0) || math.IsInf(logSD, 0) {
		return nmin
	}
	T, G := p.logLine(p.Threshold), p.logLine(p.GoBand)
	h := min(T-G, T/2)
	k := logSD * math.Sqrt(math.Pi/3)
	for n := nmin; n < maxSuggested; n++ {
		if tQuantile(1-p.Alpha, n-1)*k/math.Sqrt(float64(n)) < h {
			return n
		}
	}
	return maxSuggested
}

func pct(logRatio float64) float64 { return 100 * math.Expm1(logRatio) }

// signedPct writes a regression fraction f as the signed change of NEW against OLD.
func signedPct(p Policy, f float64) float64 {
	if p.HigherIsBetter {
		return -100 * f
	}
	return 100 * f
}

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}
