package testreport

import (
	"sort"
	"strings"
)

// Change is what happened to one test between the OLD and the NEW report.
type Change string

// Changes, in the order Diff decides them: the first that applies wins.
const (
	Quarantined Change = "quarantined"  // matches the quarantine list; never counts against NEW
	Flaky       Change = "flaky"        // Flaky on either side
	Added       Change = "new"          // only in NEW
	Removed     Change = "removed"      // only in OLD
	Regression  Change = "regression"   // did not fail on OLD (passed, skipped, todo), fails or errors on NEW
	Fixed       Change = "fixed"        // failed or errored on OLD, passes on NEW
	PreExisting Change = "pre-existing" // fails or errors on both
	NowSkipped  Change = "now-skipped"  // ran on OLD, skipped or todo on NEW
	Unchanged   Change = "unchanged"    // anything else: passes on both, skipped on both, skipped → passed
)

// CaseDelta is one test of a Diff; Old or New is nil when the test is on one side only.
type CaseDelta struct {
	ID     string
	Change Change
	Old    *Case
	New    *Case
}

// Delta compares two reports test by test.
type Delta struct {
	Cases       []CaseDelta // every test of either side, once, sorted by ID
	Counts      map[Change]int
	OldPassRate PassRate
	NewPassRate PassRate
}

// Diff compares the report of the OLD image with the report of the NEW one, matching tests by ID.
// A quarantine entry is a test ID or name, or a pattern where "*" matches any text (also "/"
// and " > "). A nil report counts as a report without tests.
func Diff(oldReport, newReport *Report, quarantine []string) Delta {
	oldCases, newCases := casesByID(oldReport), casesByID(newReport)
	ids := make([]string, 0, len(oldCases)+len(newCases))
	for k := range oldCases {
		ids = append(ids, k)
	}
	for k := range newCases {
		if _, ok := oldCases[k]; !ok {
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	d := Delta{Cases: make([]CaseDelta, 0, len(ids)), Counts: map[Change]int{}}
	for _, k := range ids {
		cd := CaseDelta{ID: k, Old: oldCases[k], New: newCases[k]}
		cd.Change = change(cd.Old, cd.New, quarantine)
		d.Counts[cd.Change]++
		d.Cases = append(d.Cases, cd)
	}
	if oldReport != nil {
		d.OldPassRate = oldReport.Totals.PassRate()
	}
	if newReport != nil {
		d.NewPassRate = newReport.Totals.PassRate()
	}
	return d
}

func casesByID(r *Report) map[string]*Case {
	if r == nil {
		return map[string]*Case{}
	}
	m := make(map[string]*Case, len(r.Cases))
	for i := range r.Cases {
		m[r.Cases[i].ID] = &r.Cases[i]
	}
	return m
}

func change(o, n *Case, quarantine []string) Change {
	switch {
	case quarantined(o, quarantine) || quarantined(n, quarantine):
		return Quarantined
	case (o != nil && o.Flaky) || (n != nil && n.Flaky):
		return Flaky
	case o == nil:
		return Added
	case n == nil:
		return Removed
	case o.Outcome.Bad() && n.Outcome.Bad():
		return PreExisting
	case n.Outcome.Bad():
		return Regression
	case o.Outcome.Bad() && n.Outcome == Passed:
		return Fixed
	case ran(o.Outcome) && !ran(n.Outcome):
		return NowSkipped
	}
	return Unchanged
}

func ran(o Outcome) bool { return o != Skipped && o != Todo }

func quarantined(c *Case, patterns []string) bool {
	if c == nil {
		return false
	}
	for _, p := range patterns {
		if p = strings.TrimSpace(p); p != "" && (glob(p, c.ID) || glob(p, c.Name)) {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where "*" matches any run of characters and everything else
// matches itself. It runs in O(len(pattern)·len(s)) at worst.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
