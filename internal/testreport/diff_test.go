package testreport

import (
	"testing"
)

// report builds a report from "ID=outcome" pairs; an outcome ending in "~" is flaky.
func report(pairs ...string) *Report {
	var runs []Case
	for _, p := range pairs {
		name, o := p, ""
		for i := len(p) - 1; i >= 0; i-- {
			if p[i] == '=' {
				name, o = p[:i], p[i+1:]
				break
			}
		}
		flaky := len(o) > 0 && o[len(o)-1] == '~'
		if flaky {
			o = o[:len(o)-1]
		}
		runs = append(runs, Case{Suite: "pkg", Name: name, Outcome: Outcome(o), Flaky: flaky})
	}
	return newReport("test", runs, false, nil)
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		old, new   *Report
		quarantine []string
		want       map[string]Change // by ID
	}{{
		name: "outcome pairs",
		old: report("pp=passed", "pf=passed", "pe=passed", "ps=passed", "fp=failed", "ep=errored",
			"ff=failed", "fe=failed", "sp=skipped", "sf=skipped", "tf=todo", "ss=skipped", "ft=failed", "tp=todo"),
		new: report("pp=passed", "pf=failed", "pe=errored", "ps=skipped", "fp=passed", "ep=passed",
			"ff=failed", "fe=errored", "sp=passed", "sf=failed", "tf=failed", "ss=skipped", "ft=todo", "tp=passed"),
		want: map[string]Change{
			"pkg/pp": Unchanged, "pkg/pf": Regression, "pkg/pe": Regression, "pkg/ps": NowSkipped,
			"pkg/fp": Fixed, "pkg/ep": Fixed, "pkg/ff": PreExisting, "pkg/fe": PreExisting,
			"pkg/sp": Unchanged, "pkg/sf": Regression, "pkg/tf": Regression, "pkg/ss": Unchanged,
			"pkg/ft": NowSkipped, "pkg/tp": Unchanged,
		},
	}, {
		name: "added and removed",
		old:  report("gone=passed", "kept=passed"),
		new:  report("kept=passed", "fresh=failed"),
		want: map[string]Change{"pkg/gone": Removed, "pkg/kept": Unchanged, "pkg/fresh": Added},
	}, {
		name: "flaky on either side wins over the outcomes",
		old:  report("a=passed~", "b=passed", "c=failed"),
		new:  report("a=passed", "b=failed~", "c=failed~", "d=failed~"),
		want: map[string]Change{"pkg/a": Flaky, "pkg/b": Flaky, "pkg/c": Flaky, "pkg/d": Flaky},
	}, {
		name:       "quarantine by ID, by name and by glob wins over everything",
		old:        report("TestDB/conn=passed", "TestDB/tx=passed", "TestNet=passed", "TestUI=passed~", "TestKeep=passed"),
		new:        report("TestDB/conn=failed", "TestDB/tx=errored", "TestNet=failed", "TestUI=failed", "TestKeep=failed", "TestNew=failed"),
		quarantine: []string{"pkg/TestNet", "TestUI", "*DB/*", "  ", "Test*New"},
		want: map[string]Change{
			"pkg/TestDB/conn": Quarantined, "pkg/TestDB/tx": Quarantined, "pkg/TestNet": Quarantined,
			"pkg/TestUI": Quarantined, "pkg/TestKeep": Regression, "pkg/TestNew": Quarantined,
		},
	}, {
		name: "nil reports",
		old:  nil,
		new:  report("a=passed"),
		want: map[string]Change{"pkg/a": Added},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(tc.old, tc.new, tc.quarantine)
			if len(d.Cases) != len(tc.want) {
				t.Errorf("%d cases, want %d: %+v", len(d.Cases), len(tc.want), d.Cases)
			}
			counts := map[Change]int{}
			for i, c := range d.Cases {
				if i > 0 && d.Cases[i-1].ID >= c.ID {
					t.Errorf("cases not sorted by ID: %q before %q", d.Cases[i-1].ID, c.ID)
				}
				if w, ok := tc.want[c.ID]; !ok || c.Change != w {
					t.Errorf("%q: %s, want %s", c.ID, c.Change, w)
				}
				if (c.Old == nil && c.Change != Added && c.Change != Quarantined && c.Change != Flaky) ||
					(c.New == nil && c.Change != Removed && c.Change != Quarantined && c.Change != Flaky) {
					t.Errorf("%q: %s with old %v, new %v", c.ID, c.Change, c.Old, c.New)
				}
				counts[c.Change]++
			}
			if !equalMaps(counts, d.Counts) {
				t.Errorf("Counts %v, the cases count %v", d.Counts, counts)
			}
		})
	}
}

func TestDiffPassRates(t *testing.T) {
	old := report("a=passed", "b=passed", "c=failed", "d=skipped", "e=todo")
	cur := report("a=passed", "b=errored", "c=failed", "d=passed")
	d := Diff(old, cur, nil)
	if d.OldPassRate != (PassRate{Passed: 2, Ran: 3}) || d.NewPassRate != (PassRate{Passed: 2, Ran: 4}) {
		t.Errorf("pass rates %+v, %+v; want 2/3 and 2/4", d.OldPassRate, d.NewPassRate)
	}
	if r, ok := d.NewPassRate.Ratio(); !ok || r != 0.5 {
		t.Errorf("Ratio = %v, %v; want 0.5, true", r, ok)
	}
	if r, ok := Diff(report("a=skipped"), nil, nil).OldPassRate.Ratio(); ok || r != 0 {
		t.Errorf("Ratio with nothing run = %v, %v; want 0, false", r, ok)
	}
}

// TestDiffCorpus diffs real reports: go-junit-report's passing run against its failing one.
func TestDiffCorpus(t *testing.T) {
	files := corpusFiles(t)
	old, err := parseFile(t, files["gotest-json/go-junit-report_103-subtests.gojson.txt"], "")
	if err != nil {
		t.Fatal(err)
	}
	// The same tests one image later: the failing subtest fixed, a new one failing.
	cur := &Report{Format: old.Format, Cases: append([]Case(nil), old.Cases...)}
	for i := range cur.Cases {
		if cur.Cases[i].Name == "TestMultiple/Single" {
			cur.Cases[i].Outcome = Passed
		}
		if cur.Cases[i].Name == "TestMultiple/Multi" {
			cur.Cases[i].Outcome = Failed
		}
	}
	d := Diff(old, cur, nil)
	want := map[Change]int{Fixed: 1, Regression: 1, PreExisting: 1, Unchanged: 1}
	if !equalMaps(d.Counts, want) {
		t.Errorf("counts %v, want %v", d.Counts, want)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "pkg/TestA/sub case", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*b*", "abc", true},
		{"a**c", "ac", true},
		{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"TestA", "TestAB", false},
		{"pkg/*/sub", "pkg/TestA/sub", true},
		{"[x]", "[x]", true},
		{"?", "a", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
