package functional

import (
	"testing"

	"github.com/plimsoll/plimsoll/internal/testreport"
)

func TestTestCases(t *testing.T) {
	c := func(name string, o testreport.Outcome) *testreport.Case {
		return &testreport.Case{Suite: "s", Name: name, ID: "s/" + name, Outcome: o}
	}
	d := Data{Delta: testreport.Delta{Cases: []testreport.CaseDelta{
		{ID: "s/a", Change: testreport.Regression, Old: c("a", testreport.Passed), New: c("a", testreport.Failed)},
		{ID: "s/b", Change: testreport.Quarantined, Old: c("b", testreport.Failed), New: c("b", testreport.Failed)},
		{ID: "s/c", Change: testreport.Unchanged, Old: c("c", testreport.Todo), New: c("c", testreport.Todo)},
		{ID: "s/d", Change: testreport.Removed, Old: c("d", testreport.Passed)},
		{ID: "s/e", Change: testreport.PreExisting, Old: c("e", testreport.Errored), New: c("e", testreport.Errored)},
	}}}
	got := d.TestCases()
	want := map[string][2]string{"a": {"failed", "regression"}, "b": {"skipped", "quarantined"}, "c": {"skipped", "unchanged"},
		"e": {"errored", "pre-existing"}}
	if len(got) != len(want) {
		t.Fatalf("%d test cases, want %d (a removed test is not on NEW): %+v", len(got), len(want), got)
	}
	for _, tc := range got {
		if w := want[tc.Name]; tc.Outcome != w[0] || tc.Change != w[1] {
			t.Errorf("%s: %s/%s, want %s/%s", tc.Name, tc.Outcome, tc.Change, w[0], w[1])
		}
	}
}
