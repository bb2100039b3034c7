package smoke

import (
	"fmt"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// state is how one probe went on one image.
type state int

const (
	passed   state = iota
	failed         // a hard failure: NO-GO unless OLD fails it too
	timedOut       // no answer in time: one is CAUTION, more are NO-GO
	notRun         // could not be tried on this image (the app is not running)
)

var stateNames = [...]string{"passed", "failed", "timed out", "not run"}

func (s state) String() string { return stateNames[s] }

// MarshalText writes the state by name in summary.json.
func (s state) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// outcome is what one probe found on one image.
type outcome struct {
	State  state  `json:"state"`
	Detail string `json:"detail"`
}

func pass(format string, args ...any) outcome {
	return outcome{State: passed, Detail: fmt.Sprintf(format, args...)}
}
func fail(format string, args ...any) outcome {
	return outcome{State: failed, Detail: fmt.Sprintf(format, args...)}
}
func skip(format string, args ...any) outcome {
	return outcome{State: notRun, Detail: fmt.Sprintf(format, args...)}
}

// item is one probe run on both images, and how they compare.
type item struct {
	Name string   `json:"name"`
	Old  *outcome `json:"old,omitempty"` // nil on a first deployment (no OLD)
	New  outcome  `json:"new"`
	// Verdict is the comparison: pass, fixed, regression, fails, timeout, pre-existing, not run.
	Verdict string `json:"verdict"`
}

// judgement is what judge makes of a check's items.
type judgement struct {
	status  check.Status
	message string
	table   check.Table
}

// judge compares the items of one check on OLD and NEW. A probe that fails on NEW is a
// regression when it passes on OLD, pre-existing (a warning) when it fails on OLD too, and a
// failure when there is no OLD to compare with. A NEW timeout counts as a failure, except that
// exactly one, with no other failure, is a warning (the seed's "one timeout → CAUTION"). With
// every item not run on NEW, the check is skipped. okMessage says what a pass measured.
func judge(items []item, okMessage string) judgement {
	var fails, timeouts, pre, fixed []string
	ran := 0
	rows := make([][]string, len(items))
	for i := range items {
		it := &items[i]
		n, o := it.New, it.Old
		comparable := o != nil && o.State != notRun
		switch {
		case n.State == notRun:
			it.Verdict = "not run"
		case n.State == passed && comparable && o.State != passed:
			it.Verdict = "fixed"
			fixed = append(fixed, named(it.Name, "OLD "+cell(*o)))
		case n.State == passed:
			it.Verdict = "pass"
		case comparable && o.State != passed:
			it.Verdict = "pre-existing"
			pre = append(pre, named(it.Name, n.Detail))
		default:
			phrase := named(it.Name, n.Detail)
			it.Verdict = "fails"
			if comparable {
				it.Verdict = "regression"
				phrase = fmt.Sprintf("regression: %s (OLD: %s)", phrase, o.Detail)
			}
			if n.State == timedOut {
				timeouts = append(timeouts, phrase)
				if it.Verdict == "fails" {
					it.Verdict = "timeout"
				}
			} else {
				fails = append(fails, phrase)
			}
		}
		if n.State != notRun {
			ran++
		}
		oldCell := "—"
		if o != nil {
			oldCell = cell(*o)
		}
		rows[i] = []string{it.Name, oldCell, cell(n), it.Verdict}
	}
	j := judgement{table: check.Table{Title: "OLD vs NEW", Columns: []string{"probe", "OLD", "NEW", "result"}, Rows: rows}}
	var msgs []string
	switch {
	case len(fails) > 0 || len(timeouts) > 1:
		j.status = check.StatusFail
		msgs = append(fails, timeouts...)
	case len(timeouts) == 1:
		j.status = check.StatusWarn
		msgs = []string{"one timeout: " + timeouts[0]}
	case len(pre) > 0:
		j.status = check.StatusWarn
	case ran == 0:
		j.status = check.StatusSkipped
		j.message = "not run on NEW"
		if len(items) > 0 {
			j.message += ": " + items[0].New.Detail
		}
		return j
	default:
		j.status = check.StatusPass
		j.message = okMessage
		if len(fixed) > 0 {
			j.message += "; fixed since OLD: " + strings.Join(fixed, "; ")
		}
		return j
	}
	if len(pre) > 0 {
		msgs = append(msgs, "pre-existing: fails on OLD too: "+strings.Join(pre, "; "))
	}
	j.message = strings.Join(msgs, "; ")
	return j
}

// named prefixes a detail with the probe's name, when it has one.
func named(name, detail string) string {
	if name == "" {
		return detail
	}
	return name + ": " + detail
}

func cell(o outcome) string {
	if o.Detail == "" {
		return o.State.String()
	}
	if o.State == passed {
		return o.Detail
	}
	return o.State.String() + ": " + o.Detail
}

// tally says how many outcomes passed, as "2/3 passed", for Measured and Baseline.
func tally(items []item, old bool, noun string) string {
	n, ok := 0, 0
	for _, it := range items {
		o := &it.New
		if old {
			o = it.Old
		}
		if o == nil || o.State == notRun {
			continue
		}
		n++
		if o.State == passed {
			ok++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d %s", ok, n, noun)
}
