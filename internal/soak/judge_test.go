package soak

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
)

// gen builds a series of n samples one second apart from f(i).
func gen(n int, f func(i int) float64) Series {
	var s Series
	for i := range n {
		s.add(float64(i+1), f(i))
	}
	return s
}

var lim = config.DefaultSoak().Limits

// w60 is a one-minute soak with a ten-second warm-up.
var w60 = Window{Warmup: 10 * time.Second, Duration: 60 * time.Second}

func TestJudgeMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	noise := func() float64 { return rng.NormFloat64() * 50e3 }
	const mb = 1 << 20
	tests := []struct {
		name  string
		s     Series
		want  check.Status
		stop  bool
		leak  bool
		inMsg string
	}{
		{name: "flat", s: gen(60, func(int) float64 { return 20*mb + noise() }), want: check.StatusPass, inMsg: "stable"},
		{name: "GC sawtooth", s: gen(60, func(i int) float64 { return 12*mb + float64(i%8)*2*mb + noise() }), want: check.StatusPass, inMsg: "stable"},
		{name: "GC sawtooth, other phase", s: gen(60, func(i int) float64 { return 12*mb + float64((i+5)%7)*2.5*mb + noise() }), want: check.StatusPass, inMsg: "stable"},
		// 200 MiB + 250 kB/s: 12.5 MB over the 50 s judged, ≈ 6 % projected: CAUTION.
		{name: "slow leak", s: gen(60, func(i int) float64 { return 200*mb + float64(i)*250e3 + noise()/10 }), want: check.StatusWarn, leak: true, inMsg: "grows"},
		// A small app growing 25.6 % over the soak: 5 MiB + 1.28 MiB, under the 8 MiB noise
		// floor but CAUTION all the same (a fixed 8 MiB floor once made it a pass).
		{name: "small app grows 25.6 %", s: gen(60, func(i int) float64 { return 5*mb + float64(max(0, i-10))*0.256*5*mb/50 + noise()/50 }),
			want: check.StatusWarn, leak: true, inMsg: "memory grows +25."},
		// A small app rising +150 % (1 → 3 MiB), under the floor: CAUTION, not a pass.
		{name: "small and rising", s: gen(60, func(i int) float64 { return 1*mb + float64(i)*40e3 }), want: check.StatusWarn, leak: true, inMsg: "under the noise floor of 8.0 MiB"},
		{name: "leak past the NO-GO line", s: gen(60, func(i int) float64 { return 40*mb + float64(i)*300e3 + noise() }), want: check.StatusFail, leak: true, inMsg: "leaks"},
		{name: "leak past the stop limit", s: gen(40, func(i int) float64 { return 20*mb + float64(i)*600e3 + noise() }), want: check.StatusFail, stop: true, leak: true, inMsg: "stop limit"},
		{name: "leak on a sawtooth", s: gen(60, func(i int) float64 { return 30*mb + float64(i%8)*2*mb + float64(i)*300e3 }), want: check.StatusFail, leak: true, inMsg: "past 30"},
		{name: "too few after warm-up", s: gen(14, func(int) float64 { return 20 * mb }), want: check.StatusInconclusive},
		{name: "no samples", s: Series{}, want: check.StatusError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := judgeMemory(&tc.s, w60, lim)
			if f.Status != tc.want || f.Stop != tc.stop || f.Leak != tc.leak || !strings.Contains(f.Message, tc.inMsg) {
				t.Errorf("got %s stop=%v leak=%v %q (%s), want %s stop=%v leak=%v ~%q", f.Status, f.Stop, f.Leak, f.Message, f.Measured, tc.want, tc.stop, tc.leak, tc.inMsg)
			}
		})
	}
}

// TestJudgeMemoryNoiseFloor: a rise under the noise floor is at most CAUTION and never GO past
// the stable band, whatever its percentage; over the floor, the bands decide.
func TestJudgeMemoryNoiseFloor(t *testing.T) {
	const mb = 1 << 20
	rising := func(level, total float64) Series { // level, then total bytes more over the judged 50 s
		return gen(60, func(i int) float64 { return level + float64(max(0, i-10))*total/50 })
	}
	for _, tc := range []struct {
		name, floor string
		s           Series
		want        check.Status
		stop        bool
		inMsg       string
	}{
		{name: "1 MiB on 10 MiB (+10 %), under the floor", floor: "2m", s: rising(10*mb, 1*mb), want: check.StatusWarn, inMsg: "under the noise floor of 2.0 MiB"},
		{name: "1.5 MiB on 4 MiB (+37.5 %), under the floor", floor: "2m", s: rising(4*mb, 1.5*mb), want: check.StatusWarn, inMsg: "CAUTION, not NO-GO"},
		{name: "1.5 MiB on 4 MiB (+37.5 %), no floor", floor: "0", s: rising(4*mb, 1.5*mb), want: check.StatusFail, inMsg: "past 30"},
		{name: "3 MiB on 20 MiB (+15 %), over the floor", floor: "2m", s: rising(20*mb, 3*mb), want: check.StatusWarn, inMsg: "memory grows: +15"},
		{name: "3 MiB on 4 MiB (+75 %), over the floor", floor: "2m", s: rising(4*mb, 3*mb), want: check.StatusFail, stop: true, inMsg: "stop limit"},
		{name: "0.2 MiB on 10 MiB (+2 %), stable band", floor: "2m", s: rising(10*mb, 0.2*mb), want: check.StatusPass, inMsg: "within the 5 % stable band"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := lim
			l.MemoryNoiseFloor = tc.floor
			f := judgeMemory(&tc.s, w60, l)
			if f.Status != tc.want || f.Stop != tc.stop || !strings.Contains(f.Message, tc.inMsg) {
				t.Errorf("got %s stop=%v %q (%s), want %s stop=%v ~%q", f.Status, f.Stop, f.Message, f.Measured, tc.want, tc.stop, tc.inMsg)
			}
		})
	}
}

func TestJudgeCount(t *testing.T) {
	tests := []struct {
		name  string
		s     Series
		limit int
		leak  check.Status
		want  check.Status
		stop  bool
	}{
		{name: "steady", s: gen(60, func(i int) float64 { return 12 + float64(i%2) }), limit: 1024, leak: check.StatusFail, want: check.StatusPass},
		{name: "at the limit", s: gen(30, func(i int) float64 { return float64(40 * i) }), limit: 1024, leak: check.StatusFail, want: check.StatusFail, stop: true},
		{name: "projected past the limit", s: gen(40, func(i int) float64 { return 10 + float64(20*i) }), limit: 1024, leak: check.StatusWarn, want: check.StatusFail},
		{name: "small leak, FDs", s: gen(60, func(i int) float64 { return 10 + float64(i)/2 }), limit: 1024, leak: check.StatusWarn, want: check.StatusWarn},
		{name: "small leak, connections", s: gen(60, func(i int) float64 { return 10 + float64(i) }), limit: 1024, leak: check.StatusFail, want: check.StatusFail},
		{name: "tiny rise", s: gen(60, func(i int) float64 { return 100 + float64(i/20) }), limit: 1024, leak: check.StatusFail, want: check.StatusPass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := judgeCount(&tc.s, w60, "things", tc.limit, 16, tc.leak)
			if f.Status != tc.want || f.Stop != tc.stop {
				t.Errorf("got %s stop=%v %q (%s), want %s stop=%v", f.Status, f.Stop, f.Message, f.Measured, tc.want, tc.stop)
			}
		})
	}
}

func TestJudgeCPU(t *testing.T) {
	tests := []struct {
		name string
		s    Series
		cpus float64
		want check.Status
	}{
		{name: "light", s: gen(60, func(i int) float64 { return 0.1 * float64(i) }), cpus: 2, want: check.StatusPass},
		{name: "sustained", s: gen(60, func(i int) float64 { return 1.8 * float64(i) }), cpus: 2, want: check.StatusWarn},
		{name: "one burst", s: gen(60, func(i int) float64 { return 0.1*float64(i) + math.Min(float64(max(i-30, 0)), 1)*5 }), cpus: 2, want: check.StatusPass},
		{name: "too few", s: gen(11, func(i int) float64 { return float64(i) }), cpus: 2, want: check.StatusInconclusive},
	}
	for _, tc := range tests {
		if f := judgeCPU(&tc.s, w60, lim, tc.cpus); f.Status != tc.want {
			t.Errorf("%s: got %s %q, want %s", tc.name, f.Status, f.Message, tc.want)
		}
	}
}

func TestJudgeHealth(t *testing.T) {
	ok := func(fails ...int) Series {
		return gen(100, func(i int) float64 {
			for _, f := range fails {
				if f == i {
					return 0
				}
			}
			return 1
		})
	}
	up := gen(100, func(int) float64 { return 1 })
	tests := []struct {
		name    string
		ok, run Series
		exit    string
		want    check.Status
		stop    bool
		inMsg   string
	}{
		{name: "healthy", ok: ok(), run: up, want: check.StatusPass},
		{name: "no port to probe", ok: Series{}, run: up, want: check.StatusSkipped, inMsg: "no port"},
		{name: "one recovered", ok: ok(40), run: up, want: check.StatusWarn, inMsg: "recovered"},
		{name: "two recovered", ok: ok(10, 70), run: up, want: check.StatusWarn, inMsg: "recovered"},
		{name: "two in a row", ok: ok(50, 51), run: up, want: check.StatusWarn},
		{name: "sustained", ok: ok(50, 51, 52), run: up, want: check.StatusFail, stop: true, inMsg: "in a row"},
		{name: "scattered, rate below", ok: ok(5, 25, 45, 65), run: up, want: check.StatusFail, inMsg: "below 99"},
		{name: "failing at the end", ok: ok(99), run: up, want: check.StatusWarn, inMsg: "not yet recovered"},
		{name: "exited", ok: ok(), run: gen(100, func(i int) float64 { return float64(min(1, 90-i)) }), exit: "exited with code 2",
			want: check.StatusFail, stop: true, inMsg: "exited with code 2"},
	}
	for _, tc := range tests {
		f := judgeHealth(&tc.ok, &tc.run, tc.exit, lim)
		if f.Status != tc.want || f.Stop != tc.stop || !strings.Contains(f.Message, tc.inMsg) {
			t.Errorf("%s: got %s stop=%v %q, want %s stop=%v ~%q", tc.name, f.Status, f.Stop, f.Message, tc.want, tc.stop, tc.inMsg)
		}
	}
}

func TestJudgeErrors(t *testing.T) {
	tests := []struct {
		name string
		s    Series
		want check.Status
	}{
		{name: "none", s: gen(120, func(int) float64 { return 0 }), want: check.StatusPass},
		{name: "one in a short soak", s: gen(30, func(i int) float64 { return float64(min(i, 1)) }), want: check.StatusPass},
		{name: "many", s: gen(120, func(i int) float64 { return float64(i / 10) }), want: check.StatusWarn},
		{name: "unread", s: Series{}, want: check.StatusInconclusive},
	}
	for _, tc := range tests {
		if f := judgeErrors(&tc.s, lim); f.Status != tc.want {
			t.Errorf("%s: got %s %q, want %s", tc.name, f.Status, f.Message, tc.want)
		}
	}
}

// TestResultsCompareWithOld: a leak NEW shares with OLD is CAUTION; a leak only NEW has is
// NO-GO; the series go into the result's data.
func TestResultsCompareWithOld(t *testing.T) {
	const mb = 1 << 20
	leak := func(rate float64) *Recording {
		r := &Recording{RSS: gen(60, func(i int) float64 { return 20*mb + float64(i)*rate })}
		r.Health, r.Running = gen(60, func(int) float64 { return 1 }), gen(60, func(int) float64 { return 1 })
		return r
	}
	tests := []struct {
		name      string
		old, new  float64
		want      check.Status
		inMessage string
	}{
		{name: "only NEW leaks", old: 0, new: 200e3, want: check.StatusFail, inMessage: "NEW: memory leaks"},
		{name: "both leak alike", old: 200e3, new: 210e3, want: check.StatusWarn, inMessage: "not brought by the upgrade"},
		{name: "NEW leaks faster", old: 100e3, new: 400e3, want: check.StatusFail, inMessage: "NEW: memory leaks"},
		{name: "neither", old: 0, new: 0, want: check.StatusPass, inMessage: "stable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &Outcome{Recordings: map[string]*Recording{"old": leak(tc.old), "new": leak(tc.new)}, Analyses: map[string]*Analysis{}, Ticks: 60, Planned: 60}
			for n, r := range o.Recordings {
				a := Analyze(r, w60, lim, 2)
				o.Analyses[n] = &a
			}
			res := Results(o)
			if len(res) != 6 || res[0].Check != "memory" {
				t.Fatalf("results %+v", res)
			}
			m := res[0]
			if m.Status != tc.want || !strings.Contains(m.Message, tc.inMessage) || m.Layer != check.L6Soak {
				t.Errorf("memory: %s %q, want %s ~%q", m.Status, m.Message, tc.want, tc.inMessage)
			}
			d := m.Data.(*ResultData)
			if d.Series["new"].Len() != 60 || d.Series["old"].Len() != 60 || d.Old == nil {
				t.Errorf("data: %+v", d)
			}
		})
	}
}
