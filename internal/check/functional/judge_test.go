package functional

import (
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

// suite builds a report of n tests named T0…, with the outcomes given for some of them (the
// others pass).
func suite(n int, outcomes map[int]testreport.Outcome, flaky ...int) *testreport.Report {
	r := &testreport.Report{Format: testreport.FormatGoTest}
	for i := range n {
		c := testreport.Case{Suite: "pkg", Name: "T" + itoa(i), Outcome: testreport.Passed, Attempts: 1}
		if o, ok := outcomes[i]; ok {
			c.Outcome = o
		}
		c.ID = c.Suite + "/" + c.Name
		r.Cases = append(r.Cases, c)
	}
	for _, i := range flaky {
		r.Cases[i].Flaky, r.Cases[i].Attempts = true, 2
	}
	return r
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

var (
	fail = testreport.Failed
	errd = testreport.Errored
	skip = testreport.Skipped
)

func TestJudge(t *testing.T) {
	seed := config.DefaultFunctional().Thresholds
	tests := []struct {
		name       string
		old, new   *testreport.Report
		quarantine []string
		want       check.Status
		inMessage  []string
		measured   string
	}{
		{name: "all pass", old: suite(200, nil), new: suite(200, nil),
			want: check.StatusPass, measured: "NEW 100 % (200/200 passed)"},
		{name: "pre-existing failure above 99 %", old: suite(200, map[int]testreport.Outcome{3: fail}), new: suite(200, map[int]testreport.Outcome{3: fail}),
			want: check.StatusPass, inMessage: []string{"1 pre-existing: fail on OLD too"}, measured: "NEW 99.5 % (199/200 passed)"},
		{name: "one regression above 99 % is CAUTION", old: suite(200, nil), new: suite(200, map[int]testreport.Outcome{7: fail}),
			want: check.StatusWarn, inMessage: []string{"1 regression: pkg/T7"}},
		{name: "an errored test is a regression too", old: suite(200, nil), new: suite(200, map[int]testreport.Outcome{7: errd}),
			want: check.StatusWarn, inMessage: []string{"1 regression: pkg/T7"}},
		{name: "quarantined regression passes", old: suite(200, nil), new: suite(200, map[int]testreport.Outcome{7: fail}),
			quarantine: []string{"pkg/T7"}, want: check.StatusPass, inMessage: []string{"1 quarantined"}, measured: "NEW 100 % (199/199 passed)"},
		{name: "quarantine glob", old: suite(100, map[int]testreport.Outcome{1: fail, 2: fail}), new: suite(100, map[int]testreport.Outcome{1: fail, 2: fail, 3: fail, 4: fail, 5: fail}),
			quarantine: []string{"pkg/T*"}, want: check.StatusError, inMessage: []string{"ran no test"}},
		{name: "exactly 99 % is CAUTION", old: suite(100, map[int]testreport.Outcome{0: fail}), new: suite(100, map[int]testreport.Outcome{0: fail}),
			want: check.StatusWarn, measured: "NEW 99 % (99/100 passed)"},
		{name: "just above 99 % passes", old: suite(1000, map[int]testreport.Outcome{0: fail, 1: fail, 2: fail, 3: fail, 4: fail, 5: fail, 6: fail, 7: fail, 8: fail}),
			new:  suite(1000, map[int]testreport.Outcome{0: fail, 1: fail, 2: fail, 3: fail, 4: fail, 5: fail, 6: fail, 7: fail, 8: fail}),
			want: check.StatusPass, measured: "NEW 99.1 % (991/1000 passed)"},
		{name: "exactly 95 % is CAUTION", old: suite(20, map[int]testreport.Outcome{0: fail}), new: suite(20, map[int]testreport.Outcome{0: fail}),
			want: check.StatusWarn, measured: "NEW 95 % (19/20 passed)"},
		{name: "below 95 % is NO-GO", old: suite(10, nil), new: suite(10, map[int]testreport.Outcome{4: fail}),
			want: check.StatusFail, inMessage: []string{"NEW passes 90 % (9/10 passed), OLD 100 % (10/10 passed)", "1 regression: pkg/T4"}},
		{name: "99.96 % is not rounded up", old: suite(10000, map[int]testreport.Outcome{9: fail, 10: fail, 11: fail, 12: fail}), new: suite(10000, map[int]testreport.Outcome{9: fail, 10: fail, 11: fail, 12: fail}),
			want: check.StatusPass, measured: "NEW 99.9 % (9996/10000 passed)"},
		{name: "skipped tests are not counted, but reported", old: suite(10, nil), new: suite(10, map[int]testreport.Outcome{0: skip, 1: skip}),
			want: check.StatusPass, measured: "NEW 100 % (8/8 passed)", inMessage: []string{"2 now skipped"}},
		{name: "tests gone from NEW are reported", old: suite(12, nil), new: suite(10, nil),
			want: check.StatusPass, inMessage: []string{"2 only on OLD"}},
		{name: "flaky test counts as passed", old: suite(10, nil), new: suite(10, map[int]testreport.Outcome{2: fail}, 2),
			want: check.StatusPass, inMessage: []string{"1 flaky"}, measured: "NEW 100 % (10/10 passed)"},
		{name: "new failing test is at least CAUTION", old: suite(300, nil), new: suite(301, map[int]testreport.Outcome{300: fail}),
			want: check.StatusWarn, inMessage: []string{"1 regression: pkg/T300"}},
		{name: "no test ran on NEW", old: suite(10, nil), new: suite(2, map[int]testreport.Outcome{0: skip, 1: skip}),
			want: check.StatusFail, inMessage: []string{"no test ran on NEW, 10 ran on OLD"}},
		{name: "first deployment, all pass", new: suite(5, nil), want: check.StatusPass},
		{name: "first deployment, one failure above 99 %", new: suite(200, map[int]testreport.Outcome{1: fail}),
			want: check.StatusWarn, inMessage: []string{"1 failing: pkg/T1"}},
		{name: "many regressions are listed short", old: suite(10, nil), new: suite(10, map[int]testreport.Outcome{0: fail, 1: fail, 2: fail, 3: fail, 4: fail, 5: fail, 6: fail}),
			want: check.StatusFail, inMessage: []string{"7 regression: pkg/T0, pkg/T1, pkg/T2, pkg/T3, pkg/T4 and 2 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := judge(testreport.Diff(tt.old, tt.new, tt.quarantine), tt.old != nil, seed)
			if j.status != tt.want {
				t.Errorf("status %s, want %s (%s)", j.status, tt.want, j.message)
			}
			for _, s := range tt.inMessage {
				if !strings.Contains(j.message, s) {
					t.Errorf("message %q lacks %q", j.message, s)
				}
			}
			if tt.measured != "" && j.measured != tt.measured {
				t.Errorf("measured %q, want %q", j.measured, tt.measured)
			}
			if tt.old != nil && !strings.HasPrefix(j.baseline, "OLD ") {
				t.Errorf("baseline %q", j.baseline)
			}
			if tt.old == nil && j.baseline != "" {
				t.Errorf("baseline %q without OLD", j.baseline)
			}
		})
	}
}

func TestJudgeTablesOrder(t *testing.T) {
	old := suite(10, map[int]testreport.Outcome{1: fail, 3: fail})
	new := suite(10, map[int]testreport.Outcome{1: fail, 2: fail, 4: fail, 5: fail}, 4)
	j := judge(testreport.Diff(old, new, []string{"pkg/T5"}), true, config.DefaultFunctional().Thresholds)
	var got []string
	for _, tb := range j.tables {
		got = append(got, tb.Title+":"+tb.Rows[0][0])
	}
	want := []string{
		"Regressions: fail on NEW, not on OLD:pkg/T2",
		"Pre-existing: fail on OLD too:pkg/T1",
		"Flaky: failed, then passed on a rerun:pkg/T4",
		"Quarantined: known failures, not counted:pkg/T5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tables\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMarkFlaky(t *testing.T) {
	first := suite(4, map[int]testreport.Outcome{1: fail, 2: fail, 3: errd})
	markFlaky(first, suite(4, map[int]testreport.Outcome{2: fail, 3: errd}))
	if !unexplained(first) {
		t.Fatal("T2 failed twice: still unexplained")
	}
	markFlaky(first, suite(3, nil)) // T3 is missing from this run: it stays unexplained
	var flaky []string
	for _, c := range first.Cases {
		if c.Flaky {
			flaky = append(flaky, c.Name+"/"+itoa(c.Attempts))
		}
	}
	if got := strings.Join(flaky, " "); got != "T1/2 T2/3" { // T3: 2 runs, never passed
		t.Errorf("flaky %q, want T1 after 2 runs and T2 after 3", got)
	}
	if first.Cases[1].Outcome != fail || first.Cases[0].Flaky {
		t.Errorf("outcomes changed: %+v", first.Cases)
	}
	if !unexplained(first) {
		t.Error("T3 never passed: still unexplained")
	}
	markFlaky(first, suite(4, nil))
	if unexplained(first) {
		t.Error("every failure passed on a rerun")
	}
}
