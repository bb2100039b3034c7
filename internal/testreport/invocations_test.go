package testreport

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestJUnitDataProviderInvocations: ten <testcase> elements of one TestNG data-provider test
// are ten invocations, and the one that fails in NEW is a regression, not a flaky rerun.
func TestJUnitDataProviderInvocations(t *testing.T) {
	const key = "org.apache.pulsar.common.compression.CompressorCodecTest/testCompressDecompress"
	old, err := parseFile(t, filepath.Join("testdata", "junit", "testng-data-provider-old.xml"), "")
	if err != nil {
		t.Fatal(err)
	}
	cand, err := parseFile(t, filepath.Join("testdata", "junit", "testng-data-provider-new.xml"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countsOf(cand.Totals), (counts{total: 10, passed: 9, failed: 1}); got != want {
		t.Errorf("NEW counts %+v, want %+v", got, want)
	}
	if cand.Totals.Runs != 10 {
		t.Errorf("NEW runs %d, want 10", cand.Totals.Runs)
	}
	d := Diff(old, cand, nil)
	if d.Counts[Regression] != 1 || d.Counts[Flaky] != 0 || d.Counts[Unchanged] != 9 {
		t.Errorf("changes %v, want 1 regression and 9 unchanged", d.Counts)
	}
	for _, c := range d.Cases {
		if c.Change == Regression && c.ID != key+"#4" {
			t.Errorf("regression %q, want the fourth invocation %q", c.ID, key+"#4")
		}
	}
	if p := d.NewPassRate; p.Passed != 9 || p.Ran != 10 {
		t.Errorf("NEW pass rate %+v, want 9/10", p)
	}
}

// surefireShape writes a JUnit report of 808 testcases as a TestNG run with data providers
// writes them (793 pass, 1 fails, 14 skipped): merged by classname and name they would be 670
// tests of which 3 are skipped.
func surefireShape() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<testsuites>\n")
	tc := func(class, name, body string) {
		if body == "" {
			fmt.Fprintf(&b, "    <testcase name=%q classname=%q time=\"0.001\"/>\n", name, class)
			return
		}
		fmt.Fprintf(&b, "    <testcase name=%q classname=%q time=\"0.001\">%s</testcase>\n", name, class, body)
	}
	b.WriteString(`  <testsuite name="org.example.Skips" tests="14" failures="0" errors="0" skipped="14">` + "\n")
	for i, n := range []int{5, 5, 4} {
		for j := 0; j < n; j++ {
			tc("org.example.Skips", fmt.Sprintf("disabled%d", i), "<skipped/>")
		}
	}
	b.WriteString("  </testsuite>\n")
	b.WriteString(`  <testsuite name="org.example.Codec" tests="10" failures="1" errors="0" skipped="0">` + "\n")
	for j := 0; j < 10; j++ {
		body := ""
		if j == 6 {
			body = `<failure message="boom">boom</failure>`
		}
		tc("org.example.Codec", "roundTrip", body)
	}
	b.WriteString("  </testsuite>\n")
	b.WriteString(`  <testsuite name="org.example.Rest" tests="784" failures="0" errors="0" skipped="0">` + "\n")
	for i := 0; i < 666; i++ {
		n := 1
		if i < 59 {
			n = 3
		}
		for j := 0; j < n; j++ {
			tc("org.example.Rest", fmt.Sprintf("test%03d", i), "")
		}
	}
	b.WriteString("  </testsuite>\n</testsuites>\n")
	return b.String()
}

// TestJUnitRepeatedTestcasesCountAsTheirToolingDoes: the 808-testcase shape counts as the report
// says of itself.
func TestJUnitRepeatedTestcasesCountAsTheirToolingDoes(t *testing.T) {
	r, err := ParseJUnit(strings.NewReader(surefireShape()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := countsOf(r.Totals), (counts{total: 808, passed: 793, failed: 1, skipped: 14}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	d := r.Totals.Declared
	if d == nil || d.Tests != r.Totals.Total || d.Failed != r.Totals.Failed || d.Skipped != r.Totals.Skipped {
		t.Errorf("declared %+v does not match the counts %+v", d, r.Totals)
	}
	if got := distinctCounts(r); got.total != 670 || got.skipped != 3 {
		t.Errorf("merged by classname and name: %+v, want the 670 tests and 3 skipped of the shape", got)
	}
}
