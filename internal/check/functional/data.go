package functional

import (
	"encoding/json"
	"time"

	"github.com/plimsoll/plimsoll/internal/testreport"
)

// dataJSON is how Data is written to summary.json and the store: each test once, with its OLD
// and NEW outcome, and only the tests whose outcome changed or that fail; the unchanged ones
// (passed on both, skipped on both, skipped then passed) are counted, not listed. junit.xml
// lists every test of NEW. The shape is documented in docs/summary-json.md.
type dataJSON struct {
	Old       *sideJSON                 `json:"old"`
	New       *sideJSON                 `json:"new"`
	Counts    map[testreport.Change]int `json:"counts"`
	Unchanged int                       `json:"unchanged"`
	Cases     []caseJSON                `json:"cases"`
}

// sideJSON is one report: its format and counts.
type sideJSON struct {
	Format   string               `json:"format"`
	Tests    int                  `json:"tests"`
	Passed   int                  `json:"passed"`
	Failed   int                  `json:"failed"`
	Errored  int                  `json:"errored"`
	Skipped  int                  `json:"skipped"`
	Todo     int                  `json:"todo"`
	Runs     int                  `json:"runs"`
	Declared *testreport.Declared `json:"declared,omitempty"`
}

// caseJSON is one test that changed or fails.
type caseJSON struct {
	ID     string            `json:"id"`
	Change testreport.Change `json:"change"`
	Old    *outcomeJSON      `json:"old,omitempty"`
	New    *outcomeJSON      `json:"new,omitempty"`
}

// outcomeJSON is one side of a test.
type outcomeJSON struct {
	Outcome  testreport.Outcome `json:"outcome"`
	Attempts int                `json:"attempts,omitempty"` // only when more than 1
	Flaky    bool               `json:"flaky,omitempty"`
	Duration string             `json:"duration,omitempty"`
	Message  string             `json:"message,omitempty"`
}

func side(r *testreport.Report) *sideJSON {
	if r == nil {
		return nil
	}
	t := r.Totals
	return &sideJSON{Format: r.Format, Tests: t.Total, Passed: t.Passed, Failed: t.Failed, Errored: t.Errored,
		Skipped: t.Skipped, Todo: t.Todo, Runs: t.Runs, Declared: t.Declared}
}

func outcome(c *testreport.Case) *outcomeJSON {
	if c == nil {
		return nil
	}
	o := &outcomeJSON{Outcome: c.Outcome, Flaky: c.Flaky, Message: c.Message}
	if c.Attempts > 1 {
		o.Attempts = c.Attempts
	}
	if c.Duration > 0 {
		o.Duration = c.Duration.Round(time.Millisecond).String()
	}
	return o
}

// MarshalJSON writes d as dataJSON.
func (d Data) MarshalJSON() ([]byte, error) {
	out := dataJSON{Old: side(d.Old), New: side(d.New), Counts: d.Delta.Counts, Cases: []caseJSON{}}
	if out.Counts == nil {
		out.Counts = map[testreport.Change]int{}
	}
	for _, cd := range d.Delta.Cases {
		if cd.Change == testreport.Unchanged {
			out.Unchanged++
			continue
		}
		out.Cases = append(out.Cases, caseJSON{ID: cd.ID, Change: cd.Change, Old: outcome(cd.Old), New: outcome(cd.New)})
	}
	return json.Marshal(out)
}
