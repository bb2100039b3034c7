package soak

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
)

// TestWithin: the major and distro plans' "all metrics within 15 % of baseline" on Layer 6 —
// NEW's levels after the warm-up against OLD's, with the metric furthest off as measured and
// baseline. Before it, nothing enforced the rule on a soak: every case but the first was GO.
func TestWithin(t *testing.T) {
	const mb = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	// rec is a recording of 60 one-second samples: memory at rss (±1 %), CPU used at cpu CPUs
	// (±5 %), fds and conns flat.
	rec := func(rss, cpu, fds, conns float64) *Recording {
		var r Recording
		used := 0.0
		for i := range 60 {
			t := float64(i + 1)
			used += cpu * (1 + rng.NormFloat64()*0.05)
			r.RSS.add(t, rss*(1+rng.NormFloat64()*0.01))
			r.CPU.add(t, used)
			r.FDs.add(t, fds)
			r.Conns.add(t, conns)
		}
		return &r
	}
	outcome := func(old, new *Recording) *Outcome {
		return &Outcome{Window: w60, Recordings: map[string]*Recording{"old": old, "new": new}}
	}
	base := func() *Recording { return rec(100*mb, 0.2, 12, 40) }
	tests := []struct {
		name   string
		new    *Recording
		want   check.Status
		inMsg  string
		worst  string // the metric named by Measured
		inBase string
	}{
		{name: "same levels", new: base(), want: check.StatusPass, inMsg: "every metric is within 15 %"},
		{name: "memory +10 %", new: rec(110*mb, 0.2, 12, 40), want: check.StatusPass, worst: "memory +", inBase: "memory OLD median "},
		{name: "memory +25 %", new: rec(125*mb, 0.2, 12, 40), want: check.StatusFail, inMsg: "memory +2", worst: "memory +2", inBase: "memory OLD median "},
		{name: "CPU +40 %", new: rec(100*mb, 0.28, 12, 40), want: check.StatusFail, inMsg: "cpu +4", worst: "cpu +4"},
		// +16 % in the median, but the samples (±5 % per second) overlap: the soak cannot tell.
		{name: "CPU +16 %, overlapping", new: rec(100*mb, 0.232, 12, 40), want: check.StatusWarn, inMsg: "cannot tell: cpu +1"},
		{name: "fds +100 % by 12", new: rec(100*mb, 0.2, 24, 40), want: check.StatusPass, worst: "fds +100.0 %"},
		{name: "fds +150 % by 18", new: rec(100*mb, 0.2, 30, 40), want: check.StatusFail, inMsg: "fds +150.0 %"},
		{name: "connections +100 % by 40", new: rec(100*mb, 0.2, 12, 80), want: check.StatusFail, inMsg: "connections +100.0 %"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Within(outcome(base(), tc.new), lim, 15)
			if r.Status != tc.want || !strings.Contains(r.Message, tc.inMsg) {
				t.Errorf("%s: %s, want %s with %q", tc.name, r.Status, tc.want, tc.inMsg)
			}
			if r.Layer != check.L6Soak || r.Check != WithinCheckName || r.Threshold == "" || r.Source == "" || r.Measured == "" || r.Baseline == "" {
				t.Errorf("result %+v: want L6 %s with measured, baseline, threshold and source", r, WithinCheckName)
			}
			if !strings.Contains(r.Measured, tc.worst) || !strings.Contains(r.Baseline, tc.inBase) {
				t.Errorf("measured %q, baseline %q; want %q and %q", r.Measured, r.Baseline, tc.worst, tc.inBase)
			}
			if len(r.Tables) != 1 || len(r.Tables[0].Rows) != 4 || r.Tables[0].Title == "" {
				t.Errorf("tables %+v: want one titled table of the 4 metrics", r.Tables)
			}
		})
	}
	// A small app 50 % above OLD in memory, by less than the 8 MiB noise floor, and an idle
	// one 50 % above in CPU, by less than 1 % of a CPU: within the rule, the table says why.
	for _, n := range []*Recording{rec(3*mb, 0.002, 12, 40), rec(2*mb, 0.003, 12, 40)} {
		small := Within(outcome(rec(2*mb, 0.002, 12, 40), n), lim, 15)
		if small.Status != check.StatusPass || !strings.Contains(fmt.Sprint(small.Tables), "within: a rise under") {
			t.Errorf("small app +50 %%: %s %q %v, want pass, the rise under the floor", small.Status, small.Message, small.Tables)
		}
	}
	if r := Within(&Outcome{Window: w60, Recordings: map[string]*Recording{"new": base()}}, lim, 15); r.Status != check.StatusSkipped {
		t.Errorf("no OLD: %s, want skipped", r.Status)
	}
	short := &Recording{}
	short.RSS.add(1, mb)
	if r := Within(outcome(short, short), lim, 15); r.Status != check.StatusWarn || !strings.Contains(r.Message, "not verified") {
		t.Errorf("too few samples: %s %q, want warn, not verified", r.Status, r.Message)
	}
}
