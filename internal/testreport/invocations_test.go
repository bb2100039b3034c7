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

// TestJestRetriesWithoutReasons: a test Jest invoked 4 times before it passed is flaky, though
// without logErrorsBeforeRetry Jest writes no retryReasons.
func TestJestRetriesWithoutReasons(t *testing.T) {
	r, err := parseFile(t, filepath.Join("testdata", "jest", "retries-old.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Cases {
		if want := c.Name == "retry > retries then passes"; c.Flaky != want || (want && c.Attempts != 4) {
			t.Errorf("%q: flaky=%v attempts=%d, want flaky=%v", c.ID, c.Flaky, c.Attempts, want)
		}
	}
}

// TestJestSuiteFromAnotherFolder: the same suite run from another folder in NEW keeps its test
// IDs, so its pre-existing failures stay pre-existing.
func TestJestSuiteFromAnotherFolder(t *testing.T) {
	old, err := parseFile(t, filepath.Join("testdata", "jest", "retries-old.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	cand, err := parseFile(t, filepath.Join("testdata", "jest", "retries-new.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(old, cand, nil)
	if d.Counts[PreExisting] != 2 || d.Counts[Regression] != 0 || d.Counts[Added] != 0 || d.Counts[Removed] != 0 {
		t.Errorf("changes %v, want the 2 failures pre-existing and nothing new or removed", d.Counts)
	}
	if c := cand.Cases[1]; c.ID != "src/api.test.js/api > GET 404" {
		t.Errorf("ID %q, want the file relative to the suite's root", c.ID)
	}
}

func TestSuiteRoot(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/app/src/a.test.js", "/app/test/b.test.js"}, "/app/"},
		{[]string{"/app/src/a.test.js"}, "/app/src/"},
		{[]string{"/app/a.test.js", "/application/b.test.js"}, "/"},
		{[]string{`C:\w\app\a.test.js`, `C:\w\app\sub\b.test.js`}, `C:\w\app\`},
		{[]string{"/app/a.test.js", "b.test.js"}, ""},
		{[]string{`C:\a.js`, `D:\b.js`}, ""},
		{nil, ""},
	} {
		if got := suiteRoot(tc.paths); got != tc.want {
			t.Errorf("suiteRoot(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}
