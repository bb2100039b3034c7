package stats

import (
	"fmt"
	"math"
	"slices"
)

// Trend is a robust straight-line fit y ≈ Intercept + Slope·x with a confidence interval for
// the slope: the Theil–Sen estimator (the median of the slopes of all pairs of points) and
// Sen's distribution-free interval from Kendall's S (Sen 1968; Gilbert 1987, §16.5).
//
// It is what the soak layer reads a memory, FD or connection series with: a single outlier, a
// GC sawtooth or a restart spike moves the median of pairwise slopes little, where a
// least-squares slope would follow it; and the interval says whether the slope is told apart
// from zero at all.
type Trend struct {
	// Slope is the Theil–Sen slope, in y units per x unit.
	Slope float64 `json:"slope"`
	// Intercept is the median of y − Slope·x.
	Intercept float64 `json:"intercept"`
	// Lo and Hi bound Slope with confidence 1−Alpha (two-sided, so each bound is a one-sided
	// 1−Alpha/2 bound).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Alpha is the error rate the interval was drawn with.
	Alpha float64 `json:"alpha"`
	// N is the number of points.
	N int `json:"n"`
}

// At returns the fitted value at x.
func (t Trend) At(x float64) float64 { return t.Intercept + t.Slope*x }

// Rising reports whether the slope is above zero with the interval's confidence.
func (t Trend) Rising() bool { return t.Lo > 0 }

// TheilSen fits a Trend to the points (x[i], y[i]) with a confidence interval of level
// 1−alpha (0 < alpha < 1; 0.10 gives a one-sided 95 % lower bound). Pairs with equal x are
// left out of the slopes. It needs at least three points with two distinct x, all finite.
// The cost is O(n² log n): callers thin long series first.
func TheilSen(x, y []float64, alpha float64) (Trend, error) {
	n := len(x)
	switch {
	case n != len(y):
		return Trend{}, fmt.Errorf("%w: %d x values for %d y values", ErrBadSample, n, len(y))
	case n < 3:
		return Trend{}, fmt.Errorf("%w: a trend needs at least 3 points, got %d", ErrNoData, n)
	case !(alpha > 0 && alpha < 1):
		return Trend{}, fmt.Errorf("%w: alpha %v not in (0, 1)", ErrBadPolicy, alpha)
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return Trend{}, fmt.Errorf("%w: point %d (%v, %v) is not finite", ErrBadSample, i, x[i], y[i])
		}
	}
	slopes := make([]float64, 0, n*(n-1)/2)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if dx := x[j] - x[i]; dx != 0 {
				slopes = append(slopes, (y[j]-y[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return Trend{}, fmt.Errorf("%w: every point has the same x", ErrBadSample)
	}
	slices.Sort(slopes)
	t := Trend{Slope: medianSorted(slopes), Alpha: alpha, N: n}
	res := make([]float64, n)
	for i := range x {
		res[i] = y[i] - t.Slope*x[i]
	}
	t.Intercept = median(res)
	// Sen's interval: with N slopes and C = z(1−α/2)·sqrt(Var S), Var S = n(n−1)(2n+5)/18 (no
	// tie correction: conservative with ties), the bounds are the M1-th and (M2+1)-th smallest
	// slopes, M1 = (N−C)/2 and M2 = (N+C)/2, rounded outwards.
	nn := float64(n)
	c := normalQuantile(1-alpha/2) * math.Sqrt(nn*(nn-1)*(2*nn+5)/18)
	big := float64(len(slopes))
	lo := int(math.Floor((big - c) / 2)) // 1-based rank
	hi := int(math.Ceil((big+c)/2)) + 1  // 1-based rank
	t.Lo = slopes[max(lo, 1)-1]
	t.Hi = slopes[min(hi, len(slopes))-1]
	return t, nil
}
