package stats

import (
	"math"
	"slices"
)

// exactMaxN is the largest number of rounds for which the null distribution of the signed-rank
// statistic is computed exactly (O(n³)); above it the normal approximation, which is accurate to
// a fraction of a rank there, takes over.
const exactMaxN = 200

// signedRankCrit returns the largest c with P(W⁺ ≤ c) ≤ alpha for the Wilcoxon signed-rank
// statistic W⁺ of n untied observations under the null hypothesis, and that probability. ok is
// false when even P(W⁺ = 0) = 2⁻ⁿ exceeds alpha: then no interval at this level exists.
func signedRankCrit(n int, alpha float64) (c int, p float64, ok bool) {
	if n <= 0 {
		return 0, 0, false
	}
	if n > exactMaxN {
		m := float64(n*(n+1)) / 4
		sd := math.Sqrt(float64(n*(n+1)*(2*n+1)) / 24)
		c = int(math.Floor(m - 0.5 - normalQuantile(1-alpha)*sd))
		if c < 0 {
			return 0, 0, false
		}
		return c, normalCDF((float64(c) + 0.5 - m) / sd), true
	}
	// dist[w] = P(W⁺ = w), built item by item (0/1 knapsack over the ranks 1..n), halving at
	// each step so that nothing overflows.
	maxW := n * (n + 1) / 2
	dist := make([]float64, maxW+1)
	dist[0] = 1
	for k := 1; k <= n; k++ {
		top := k * (k + 1) / 2
		for w := top; w >= k; w-- {
			dist[w] += dist[w-k]
		}
		for w := 0; w <= top; w++ {
			dist[w] /= 2
		}
	}
	cum := 0.0
	c = -1
	for w := 0; w <= maxW; w++ {
		if cum+dist[w] > alpha*(1+1e-12) {
			break
		}
		cum += dist[w]
		c = w
	}
	if c < 0 {
		return 0, 0, false
	}
	return c, cum, true
}

// walsh returns the n(n+1)/2 Walsh averages (x_i + x_j)/2, i ≤ j, sorted.
func walsh(x []float64) []float64 {
	w := make([]float64, 0, len(x)*(len(x)+1)/2)
	for i := range x {
		for j := i; j < len(x); j++ {
			w = append(w, (x[i]+x[j])/2)
		}
	}
	slices.Sort(w)
	return w
}

// hodgesLehmann returns the median of the sorted Walsh averages w: the Hodges–Lehmann estimate
// of the centre of a symmetric distribution.
func hodgesLehmann(w []float64) float64 { return medianSorted(w) }

// signedRankCI returns the exact (for n ≤ exactMaxN) two-sided confidence interval of level
// 1 − 2·alpha for the centre of symmetry of x, from the sorted Walsh averages w of x: the
// (c+1)-th smallest and the (c+1)-th largest Walsh average, where c is the signed-rank critical
// value. conf is the level actually reached (the distribution is discrete, so it is ≥ 1 − 2·alpha).
func signedRankCI(n int, w []float64, alpha float64) (lo, hi, conf float64, ok bool) {
	c, p, ok := signedRankCrit(n, alpha)
	if !ok {
		return 0, 0, 0, false
	}
	return w[c], w[len(w)-1-c], 1 - 2*p, true
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return medianSorted(s)
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// tQuantile approximates the p-quantile of Student's t with df degrees of freedom by the
// Cornish–Fisher expansion around the normal quantile (within 1 % for df ≥ 4, p ≤ 0.99).
func tQuantile(p float64, df int) float64 {
	z := normalQuantile(p)
	v := float64(df)
	z3, z5 := z*z*z, z*z*z*z*z
	return z + (z3+z)/(4*v) + (5*z5+16*z3+3*z)/(96*v*v)
}
