package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func seq(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
	}
	return x
}

// TestTheilSenKnownAnswers checks fits worked out by hand.
func TestTheilSenKnownAnswers(t *testing.T) {
	tests := []struct {
		name                     string
		x, y                     []float64
		alpha                    float64
		slope, intercept, lo, hi float64
	}{
		{
			// Pairwise slopes sorted: −1 −1 1/3 1/2 3/4 1 1 4/3 2 3; median (3/4+1)/2. Residuals
			// y−0.875x: 0.125 1.25 −0.625 1.5 −0.375, median 0.125. C = 1.6449·sqrt(5·4·15/18) =
			// 6.715: ranks floor(1.64) = 1 and ceil(8.36)+1 = 10.
			name: "five points", x: seq(5), y: []float64{1, 3, 2, 5, 4}, alpha: 0.10,
			slope: 0.875, intercept: 0.125, lo: -1, hi: 3,
		},
		{
			name: "exact line", x: seq(10), y: []float64{5, 8, 11, 14, 17, 20, 23, 26, 29, 32}, alpha: 0.10,
			slope: 3, intercept: 2, lo: 3, hi: 3,
		},
		{
			name: "flat", x: seq(6), y: []float64{7, 7, 7, 7, 7, 7}, alpha: 0.05,
			slope: 0, intercept: 7, lo: 0, hi: 0,
		},
		{
			// One wild point: 9 of the 10 points lie on y = 2x. Of the 45 slopes, 36 are exactly 2,
			// so the median and both bounds stay at 2.
			name: "outlier", x: seq(10), y: []float64{2, 4, 6, 8, 1000, 12, 14, 16, 18, 20}, alpha: 0.10,
			slope: 2, intercept: 0, lo: 2, hi: 2,
		},
		{
			// Ties in x are left out: (1,1)-(1,3) and (2,2)-(2,4) give no slope. The other eight:
			// (1,1)→(2,2) 1, (1,1)→(2,4) 3, (1,3)→(2,2) −1, (1,3)→(2,4) 1, (1,1)→(3,5) 2,
			// (1,3)→(3,5) 1, (2,2)→(3,5) 3, (2,4)→(3,5) 1. Sorted −1 1 1 1 1 2 3 3: median 1.
			// Residuals y−x: 0 2 0 2 2, median 2.
			name: "ties in x", x: []float64{1, 1, 2, 2, 3}, y: []float64{1, 3, 2, 4, 5}, alpha: 0.10,
			slope: 1, intercept: 2, lo: -1, hi: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TheilSen(tc.x, tc.y, tc.alpha)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"slope", got.Slope, tc.slope}, {"intercept", got.Intercept, tc.intercept}, {"lo", got.Lo, tc.lo}, {"hi", got.Hi, tc.hi}} {
				if math.Abs(c.got-c.want) > 1e-9 {
					t.Errorf("%s = %v, want %v (%+v)", c.what, c.got, c.want, got)
				}
			}
			if got.N != len(tc.x) {
				t.Errorf("N = %d", got.N)
			}
		})
	}
}

func TestTheilSenErrors(t *testing.T) {
	tests := []struct {
		name  string
		x, y  []float64
		alpha float64
		want  error
	}{
		{"too few", seq(2), []float64{1, 2}, 0.1, ErrNoData},
		{"length", seq(3), []float64{1, 2}, 0.1, ErrBadSample},
		{"nan", seq(3), []float64{1, math.NaN(), 2}, 0.1, ErrBadSample},
		{"inf x", []float64{1, math.Inf(1), 3}, []float64{1, 2, 3}, 0.1, ErrBadSample},
		{"same x", []float64{2, 2, 2}, []float64{1, 2, 3}, 0.1, ErrBadSample},
		{"alpha", seq(3), []float64{1, 2, 3}, 0, ErrBadPolicy},
		{"alpha one", seq(3), []float64{1, 2, 3}, 1, ErrBadPolicy},
	}
	for _, tc := range tests {
		if _, err := TheilSen(tc.x, tc.y, tc.alpha); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestTheilSenSawtooth: a GC sawtooth (a heap that grows and is collected every few samples)
// around a flat level moves the slope by a fraction of its amplitude over the series at most
// (the median of pairwise slopes leans towards the ramps' slope when the window ends mid-ramp:
// the soak judge therefore also asks the floor to rise), while the same sawtooth on a slow leak
// is rising with confidence.
func TestTheilSenSawtooth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, period := range []int{5, 7, 10, 13} {
		for _, phase := range []int{0, 3} {
			x, flat, leak := seq(60), make([]float64, 60), make([]float64, 60)
			for i := range x {
				saw := 20 * float64((i+phase)%period) / float64(period)
				noise := rng.NormFloat64() * 0.3
				flat[i] = 100 + saw + noise
				leak[i] = 100 + saw + noise + 0.8*float64(i)
			}
			tf, err := TheilSen(x, flat, 0.10)
			if err != nil {
				t.Fatal(err)
			}
			if drift := math.Abs(tf.Slope) * 60; drift > 20.0/3 {
				t.Errorf("period %d phase %d: flat sawtooth drifts %.2f over the series (amplitude 20): %+v", period, phase, drift, tf)
			}
			tl, err := TheilSen(x, leak, 0.10)
			if err != nil {
				t.Fatal(err)
			}
			if !tl.Rising() {
				t.Errorf("period %d phase %d: leaking sawtooth not rising: %+v", period, phase, tl)
			}
		}
	}
}

// TestTheilSenCoverage: on a noisy line the 90 % interval holds the true slope about 90 % of
// the time (it is slightly conservative without tie correction).
func TestTheilSenCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const trials = 400
	hit := 0
	for range trials {
		x, y := seq(30), make([]float64, 30)
		for i := range y {
			y[i] = 10 + 0.5*x[i] + rng.NormFloat64()*2
		}
		tr, err := TheilSen(x, y, 0.10)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Lo <= 0.5 && 0.5 <= tr.Hi {
			hit++
		}
	}
	if cov := float64(hit) / trials; cov < 0.86 || cov > 0.97 {
		t.Errorf("coverage %.3f, want ≈ 0.90", cov)
	}
}
