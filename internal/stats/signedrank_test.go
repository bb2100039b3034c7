package stats

import (
	"math"
	"testing"
)

// Critical values of the Wilcoxon signed-rank test from the published tables (largest c with
// P(W⁺ ≤ c) ≤ α), one-sided α = 0.05 and α = 0.025.
func TestSignedRankCritMatchesTables(t *testing.T) {
	tables := map[float64]map[int]int{
		0.05: {5: 0, 6: 2, 7: 3, 8: 5, 9: 8, 10: 10, 11: 13, 12: 17, 13: 21, 14: 25, 15: 30, 16: 35,
			17: 41, 18: 47, 19: 53, 20: 60, 25: 100, 30: 151},
		0.025: {6: 0, 7: 2, 8: 3, 9: 5, 10: 8, 11: 10, 12: 13, 13: 17, 14: 21, 15: 25, 16: 29,
			17: 34, 18: 40, 19: 46, 20: 52, 25: 89, 30: 137},
	}
	for alpha, tab := range tables {
		for n, want := range tab {
			c, p, ok := signedRankCrit(n, alpha)
			if !ok || c != want {
				t.Errorf("n=%d α=%v: c=%d ok=%v, table says %d", n, alpha, c, ok, want)
			}
			if p > alpha || p <= 0 {
				t.Errorf("n=%d α=%v: P(W⁺ ≤ c) = %v", n, alpha, p)
			}
		}
	}
}

func TestSignedRankCritTooFewRounds(t *testing.T) {
	for n := 0; n <= 4; n++ {
		if _, _, ok := signedRankCrit(n, 0.05); ok {
			t.Errorf("n=%d: an interval at α=0.05 cannot exist (2⁻ⁿ > 0.05)", n)
		}
	}
	if c, p, ok := signedRankCrit(5, 0.05); !ok || c != 0 || math.Abs(p-1.0/32) > 1e-15 {
		t.Errorf("n=5: c=%d p=%v ok=%v, want 0, 1/32", c, p, ok)
	}
}

// Above exactMaxN the normal approximation takes over; it must agree with the exact value at
// the boundary to within a rank or two.
func TestSignedRankCritNormalApproximationAgrees(t *testing.T) {
	n := exactMaxN
	exact, pe, _ := signedRankCrit(n, 0.05)
	m := float64(n*(n+1)) / 4
	sd := math.Sqrt(float64(n*(n+1)*(2*n+1)) / 24)
	approx := int(math.Floor(m - 0.5 - normalQuantile(0.95)*sd))
	if d := exact - approx; d < -2 || d > 2 {
		t.Errorf("n=%d: exact %d (p=%v), normal approximation %d", n, exact, pe, approx)
	}
	c, p, ok := signedRankCrit(n+1, 0.05)
	if !ok || c <= exact || p > 0.05 || p < 0.04 {
		t.Errorf("n=%d (approximated): c=%d p=%v ok=%v", n+1, c, p, ok)
	}
}

func TestWalshAndHodgesLehmann(t *testing.T) {
	x := []float64{1, 3, 8}
	w := walsh(x)
	want := []float64{1, 2, 3, 4.5, 5.5, 8}
	if len(w) != len(want) {
		t.Fatalf("walsh(%v) = %v", x, w)
	}
	for i := range w {
		if w[i] != want[i] {
			t.Fatalf("walsh(%v) = %v, want %v", x, w, want)
		}
	}
	if hl := hodgesLehmann(w); hl != 3.75 {
		t.Errorf("Hodges–Lehmann = %v, want 3.75", hl)
	}
}

func TestSignedRankCIKnownSample(t *testing.T) {
	// n=5 at α=0.05: c=0, so the interval is [min, max] of the data, level 1−2/32.
	x := []float64{-0.02, 0.01, 0.03, 0.05, 0.2}
	lo, hi, conf, ok := signedRankCI(len(x), walsh(x), 0.05)
	if !ok || lo != -0.02 || hi != 0.2 || math.Abs(conf-0.9375) > 1e-12 {
		t.Errorf("CI = [%v, %v] conf %v ok %v, want [-0.02, 0.2] 0.9375", lo, hi, conf, ok)
	}
}

func TestQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"z 0.95", normalQuantile(0.95), 1.6448536, 1e-6},
		{"z 0.5", normalQuantile(0.5), 0, 1e-12},
		{"Φ(1.96)", normalCDF(1.959964), 0.975, 1e-6},
		{"t 0.95 df 4", tQuantile(0.95, 4), 2.131847, 0.02},
		{"t 0.95 df 12", tQuantile(0.95, 12), 1.782288, 0.005},
		{"t 0.95 df 100", tQuantile(0.95, 100), 1.660234, 0.001},
	} {
		if math.Abs(tc.got-tc.want) > tc.tol {
			t.Errorf("%s = %v, want %v ± %v", tc.name, tc.got, tc.want, tc.tol)
		}
	}
}
