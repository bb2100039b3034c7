package functional

import (
	"fmt"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

// judgement is what judge makes of a comparison.
type judgement struct {
	status                        check.Status
	message                       string
	measured, baseline, threshold string
	tables                        []check.Table
}

// rate counts the tests of one side that count for the pass rate.
type rate struct{ passed, ran int }

func (r rate) percent() float64 { return 100 * float64(r.passed) / float64(r.ran) }

func (r rate) String() string {
	if r.ran == 0 {
		return "no test ran"
	}
	return fmt.Sprintf("%s %% (%d/%d passed)", pct(r.percent()), r.passed, r.ran)
}

// pct prints a percentage with one decimal, without rounding 99.96 up to a GO-looking 100.0.
func pct(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	s = s[:len(s)-1]
	return strings.TrimSuffix(s, ".0")
}

// counts returns the pass rate of one side of d: tests that ran (not skipped, not todo) and are
// not quarantined; a flaky test counts as passed.
func counts(d testreport.Delta, side func(testreport.CaseDelta) *testreport.Case) rate {
	var r rate
	for _, cd := range d.Cases {
		c := side(cd)
		if c == nil || cd.Change == testreport.Quarantined || c.Outcome == testreport.Skipped || c.Outcome == testreport.Todo {
			continue
		}
		r.ran++
		if c.Outcome == testreport.Passed || c.Flaky {
			r.passed++
		}
	}
	return r
}

func oldSide(cd testreport.CaseDelta) *testreport.Case { return cd.Old }
func newSide(cd testreport.CaseDelta) *testreport.Case { return cd.New }

// judge maps a comparison to a status: NEW's pass rate above t.GO passes, from t.NoGo to t.GO
// is a warning (CAUTION), below t.NoGo fails (NO-GO); a non-quarantined test failing on NEW and
// not on OLD (a regression, or a failing test only NEW has) makes it at least a warning. A NEW
// run without tests fails when OLD ran tests, and is an error when neither did.
func judge(d testreport.Delta, hasOld bool, t config.FunctionalThresholds) judgement {
	newRate, oldRate := counts(d, newSide), counts(d, oldSide)
	j := judgement{
		measured:  "NEW " + newRate.String(),
		threshold: fmt.Sprintf("GO > %v %%, CAUTION %v–%v %%, NO-GO < %v %%; a new failure is at least CAUTION", t.GO, t.NoGo, t.GO, t.NoGo),
	}
	if hasOld {
		j.baseline = "OLD " + oldRate.String()
	}
	var regress, pre, flaky, quarantined, skipped [][]string
	removed := 0
	var regressNames []string
	for _, cd := range d.Cases {
		row := []string{cd.ID, cell(cd.Old, hasOld), cell(cd.New, true), detail(cd)}
		switch {
		case cd.Change == testreport.Regression, cd.Change == testreport.Added && cd.New.Outcome.Bad():
			regress = append(regress, row)
			regressNames = append(regressNames, cd.ID)
		case cd.Change == testreport.PreExisting:
			pre = append(pre, row)
		case cd.Change == testreport.Flaky:
			flaky = append(flaky, row)
		case cd.Change == testreport.Quarantined:
			quarantined = append(quarantined, row)
		case cd.Change == testreport.NowSkipped:
			skipped = append(skipped, row)
		case cd.Change == testreport.Removed:
			removed++
		}
	}
	cols := []string{"test", "OLD", "NEW", "message"}
	title := "Regressions: fail on NEW, not on OLD"
	if !hasOld {
		title = "Failures on NEW (no OLD to compare with)"
	}
	for _, tb := range []check.Table{
		{Title: title, Rows: regress},
		{Title: "Pre-existing: fail on OLD too", Rows: pre},
		{Title: "Flaky: failed, then passed on a rerun", Rows: flaky},
		{Title: "Quarantined: known failures, not counted", Rows: quarantined},
		{Title: "Now skipped: ran on OLD, skipped on NEW", Rows: skipped},
	} {
		if len(tb.Rows) > 0 {
			tb.Columns = cols
			j.tables = append(j.tables, tb)
		}
	}

	var msg []string
	switch {
	case newRate.ran == 0 && hasOld && oldRate.ran > 0:
		j.status = check.StatusFail
		msg = append(msg, fmt.Sprintf("no test ran on NEW, %d ran on OLD", oldRate.ran))
	case newRate.ran == 0:
		j.status = check.StatusError
		msg = append(msg, "the suite ran no test (every test skipped, todo or quarantined)")
	default:
		p := newRate.percent()
		switch {
		case p > t.GO:
			j.status = check.StatusPass
		case p >= t.NoGo:
			j.status = check.StatusWarn
		default:
			j.status = check.StatusFail
		}
		s := "NEW passes " + newRate.String()
		if hasOld {
			s += ", OLD " + oldRate.String()
		}
		msg = append(msg, s)
	}
	if len(regressNames) > 0 {
		j.status = check.Worst(j.status, check.StatusWarn)
		word := "regression"
		if !hasOld {
			word = "failing"
		}
		msg = append(msg, fmt.Sprintf("%d %s: %s", len(regressNames), word, names(regressNames)))
	}
	if len(pre) > 0 {
		msg = append(msg, fmt.Sprintf("%d pre-existing: fail on OLD too", len(pre)))
	}
	if len(flaky) > 0 {
		msg = append(msg, fmt.Sprintf("%d flaky", len(flaky)))
	}
	if len(quarantined) > 0 {
		msg = append(msg, fmt.Sprintf("%d quarantined", len(quarantined)))
	}
	if len(skipped) > 0 {
		msg = append(msg, fmt.Sprintf("%d now skipped", len(skipped)))
	}
	if removed > 0 {
		msg = append(msg, fmt.Sprintf("%d only on OLD", removed))
	}
	j.message = strings.Join(msg, "; ")
	return j
}

// maxNamed is how many test names a message lists before "and N more".
const maxNamed = 5

func names(ids []string) string {
	if len(ids) <= maxNamed {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:maxNamed], ", "), len(ids)-maxNamed)
}

// cell describes one side of a test for a table.
func cell(c *testreport.Case, present bool) string {
	switch {
	case !present:
		return "-"
	case c == nil:
		return "absent"
	case c.Flaky:
		return fmt.Sprintf("%s (flaky, %d runs)", c.Outcome, c.Attempts)
	}
	return string(c.Outcome)
}

// maxDetail is the longest message a table cell quotes.
const maxDetail = 200

// detail is the message of the side that failed, NEW first, on one line.
func detail(cd testreport.CaseDelta) string {
	var m string
	switch {
	case cd.New != nil && cd.New.Outcome.Bad():
		m = cd.New.Message
	case cd.Old != nil && cd.Old.Outcome.Bad():
		m = cd.Old.Message
	}
	m = strings.Join(strings.Fields(m), " ")
	if len(m) > maxDetail {
		m = strings.ToValidUTF8(m[:maxDetail], "") + "…"
	}
	return m
}
