package testreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// corpusDirs are the directories of ../shared/testdata/reports, real reports of real runners.
var corpusDirs = []string{"junit", "jest", "gotest-json", "tap"}

// counts are hand-checked outcome counts of a report (opened and counted by eye).
type counts struct{ total, passed, failed, errored, skipped, todo int }

func countsOf(t Totals) counts {
	return counts{t.Total, t.Passed, t.Failed, t.Errored, t.Skipped, t.Todo}
}

// corpusWant is what parsing a corpus file with format detection must give.
type corpusWant struct {
	format      string  // detected format when it parses
	err         error   // the sentinel when it must not parse
	counts      *counts // hand-checked, for files without *.expected.results.json
	expectation bool    // an *.expected.* file: the counts of a report, not a report
}

// corpus lists every file of the corpus; TestCorpus fails on a file missing here.
var corpus = map[string]corpusWant{
	// JUnit. The enricomi_* reports have their authors' counts (TestEnricoMiExpectedResults).
	"junit/dorny_empty_java-junit.xml":                                              {format: FormatJUnit, counts: &counts{}},
	"junit/dorny_empty_jest-junit-empty-testsuite.xml":                              {format: FormatJUnit, counts: &counts{}},
	"junit/dorny_external_java_empty_failures.xml":                                  {format: FormatJUnit, counts: &counts{total: 3, passed: 2, failed: 1}},
	"junit/dorny_external_java_junit4-complete.xml":                                 {format: FormatJUnit, counts: &counts{total: 8, passed: 5, failed: 1, errored: 1, skipped: 1}},
	"junit/dorny_external_jest_jest-react-component-test-results.xml":               {format: FormatJUnit, counts: &counts{total: 1, passed: 1}},
	"junit/dorny_external_jest_jest-test-results.xml":                               {format: FormatJUnit},
	"junit/dorny_external_phpunit_phpcheckstyle-phpunit.xml":                        {format: FormatJUnit},
	"junit/dorny_jest-junit.xml":                                                    {format: FormatJUnit},
	"junit/dorny_junit-with-message.xml":                                            {format: FormatJUnit, counts: &counts{total: 1, failed: 1}},
	"junit/dorny_python-xunit-pytest.xml":                                           {format: FormatJUnit, counts: &counts{total: 10, passed: 6, failed: 2, skipped: 2}},
	"junit/dorny_python-xunit-unittest.xml":                                         {format: FormatJUnit},
	"junit/dorny_swift-xunit.xml":                                                   {format: FormatJUnit, counts: &counts{total: 3, passed: 2, failed: 1}},
	"junit/dorny_test-errors_jest_jest-test-results.xml":                            {format: FormatJUnit, counts: &counts{total: 2, errored: 2}},
	"junit/enricomi_bazel_suite-logs.xml":                                           {format: FormatJUnit},
	"junit/enricomi_empty-system-out-err.xml":                                       {format: FormatJUnit},
	"junit/enricomi_jest_jest-junit.xml":                                            {format: FormatJUnit},
	"junit/enricomi_junit.multiresult.xml":                                          {format: FormatJUnit},
	"junit/enricomi_minimal-attributes.xml":                                         {format: FormatJUnit},
	"junit/enricomi_mocha_latex-utensils.xml":                                       {format: FormatJUnit},
	"junit/enricomi_no-attributes.xml":                                              {format: FormatJUnit},
	"junit/enricomi_no-cases-but-tests.xml":                                         {format: FormatJUnit},
	"junit/enricomi_no-cases.xml":                                                   {format: FormatJUnit},
	"junit/enricomi_non-junit.xml":                                                  {err: ErrUnknownFormat}, // root <suites>
	"junit/enricomi_pytest_corrupt-xml.xml":                                         {err: ErrMalformed},     // cut inside <skipped>
	"junit/enricomi_pytest_junit.fail.xml":                                          {format: FormatJUnit},
	"junit/enricomi_pytest_junit.gloo.standalone.xml":                               {format: FormatJUnit},
	"junit/enricomi_scalatest_TEST-uk.co.gresearch.spark.diff.DiffOptionsSuite.xml": {format: FormatJUnit},
	"junit/enricomi_testsuite-in-testsuite.xml":                                     {format: FormatJUnit},
	"junit/enricomi_testsuite-root.xml":                                             {format: FormatJUnit},
	"junit/enricomi_tst_disabled.xml":                                               {format: FormatJUnit},
	"junit/enricomi_unsupported-unicode.xml":                                        {format: FormatJUnit},
	"junit/enricomi_with-xml-entities.xml":                                          {format: FormatJUnit},
	"junit/enricomi_xunit_xunit.xml":                                                {format: FormatJUnit},
	"junit/go-junit-report_012-report.xml":                                          {format: FormatJUnit, counts: &counts{total: 11, passed: 6, failed: 4, skipped: 1}},
	"junit/go-junit-report_013-report.xml":                                          {format: FormatJUnit, counts: &counts{total: 5, passed: 2, errored: 3}},
	"junit/go-junit-report_014-report.xml":                                          {format: FormatJUnit, counts: &counts{total: 2, errored: 2}},
	"junit/go-junit-report_017-report.xml":                                          {format: FormatJUnit, counts: &counts{total: 1, failed: 1}},
	// go-junit-report's inputs for the four reports above are plain `go test -v` text, which is
	// no supported format.
	"junit/go-junit-report_012-subtests.txt":     {err: ErrUnknownFormat},
	"junit/go-junit-report_013-syntax-error.txt": {err: ErrUnknownFormat},
	"junit/go-junit-report_014-panic.txt":        {err: ErrUnknownFormat},
	"junit/go-junit-report_017-race.txt":         {err: ErrUnknownFormat},

	// Jest and mocha JSON.
	"jest/dorny_mocha-json.json":                          {format: FormatMocha, counts: &counts{total: 6, passed: 1, failed: 4, skipped: 1}},
	"jest/jest30_e2e-each.json":                           {format: FormatJest, counts: &counts{total: 85, passed: 59, failed: 15, skipped: 11}},
	"jest/jest30_e2e-json-reporter.json":                  {format: FormatJest, counts: &counts{total: 4, passed: 2, failed: 1, skipped: 1}},
	"jest/jest30_e2e-test-failing.json":                   {format: FormatJest, counts: &counts{total: 64, passed: 15, failed: 22, skipped: 26, todo: 1}},
	"jest/jest30_e2e-test-todo.json":                      {format: FormatJest, counts: &counts{total: 13, passed: 2, failed: 1, errored: 3, skipped: 1, todo: 6}},
	"gotest-json/dorny_golang-json.json":                  {format: FormatGoTest, counts: &counts{total: 12, passed: 5, failed: 6, skipped: 1}},
	"gotest-json/go-junit-report_100-pass.gojson.txt":     {format: FormatGoTest, counts: &counts{total: 1, passed: 1}},
	"gotest-json/go-junit-report_100-report.xml":          {format: FormatJUnit, counts: &counts{total: 1, passed: 1}},
	"gotest-json/go-junit-report_101-fail.gojson.txt":     {format: FormatGoTest, counts: &counts{total: 2, passed: 1, failed: 1}},
	"gotest-json/go-junit-report_101-report.xml":          {format: FormatJUnit, counts: &counts{total: 2, passed: 1, failed: 1}},
	"gotest-json/go-junit-report_102-broken.gojson.txt":   {format: FormatGoTest, counts: &counts{total: 1, errored: 1}},
	"gotest-json/go-junit-report_102-report.xml":          {format: FormatJUnit, counts: &counts{total: 1, errored: 1}},
	"gotest-json/go-junit-report_103-report.xml":          {format: FormatJUnit, counts: &counts{total: 4, passed: 2, failed: 2}},
	"gotest-json/go-junit-report_103-subtests.gojson.txt": {format: FormatGoTest, counts: &counts{total: 4, passed: 2, failed: 2}},
	"gotest-json/go-junit-report_104-race.gojson.txt":     {format: FormatGoTest, counts: &counts{total: 1, failed: 1}},
	"gotest-json/go-junit-report_104-report.xml":          {format: FormatJUnit, counts: &counts{total: 1, failed: 1}},
	"gotest-json/go-junit-report_105-panic.gojson.txt":    {format: FormatGoTest, counts: &counts{total: 1, errored: 1}},
	"gotest-json/go-junit-report_105-report.xml":          {format: FormatJUnit, counts: &counts{total: 1, errored: 1}},

	// TAP: tapjs's parser fixtures.
	"tap/tapjs_got-spare-tuits.tap":     {format: FormatTAP, counts: &counts{total: 4, passed: 2, todo: 2}},
	"tap/tapjs_indent.tap":              {format: FormatTAP, counts: &counts{total: 6, passed: 4, skipped: 1, todo: 1}},
	"tap/tapjs_node-test-cjs.tap":       {format: FormatTAP, counts: &counts{total: 2, failed: 2}},
	"tap/tapjs_node-test-mjs.tap":       {format: FormatTAP, counts: &counts{total: 2, failed: 2}},
	"tap/tapjs_not-ok-todo.tap":         {format: FormatTAP, counts: &counts{total: 4, passed: 3, todo: 1}},
	"tap/tapjs_perl-test2-buffered.tap": {format: FormatTAP, counts: &counts{total: 9, passed: 8, failed: 1}},
	"tap/tapjs_perl-test2-streamed.tap": {format: FormatTAP, counts: &counts{total: 4, passed: 4}},
	"tap/tapjs_schwern.tap":             {format: FormatTAP, counts: &counts{total: 1, passed: 1}},
	"tap/tapjs_skip-all-with-test.tap":  {err: ErrMalformed}, // plan 1..0 after a test point
	"tap/tapjs_skipall_v13.tap":         {format: FormatTAP, counts: &counts{}},
	"tap/tapjs_subtest-buffer.tap":      {format: FormatTAP, counts: &counts{total: 6, passed: 6}},
	// its own trailing summary says: pass 297, fail 5, skip 5, todo 4
	"tap/tapjs_tap-tests.tap":     {format: FormatTAP, counts: &counts{total: 311, passed: 297, failed: 5, skipped: 5, todo: 4}},
	"tap/tapjs_todo_misparse.tap": {format: FormatTAP, counts: &counts{total: 1, todo: 1}}, // "# TODOORNOTTODO" is a todo for tapjs
	"tap/tapjs_version_good.tap":  {format: FormatTAP, counts: &counts{total: 5, passed: 5}},
}

// corpusFiles returns every file of the corpus as "dir/name" → path.
func corpusFiles(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, dir := range corpusDirs {
		root := testenv.SharedDir(t, filepath.Join("reports", dir))
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files[dir+"/"+e.Name()] = filepath.Join(root, e.Name())
			}
		}
	}
	return files
}

func isExpectation(name string) bool {
	return strings.HasSuffix(name, ".expected.results.json") || strings.HasSuffix(name, ".expected.exception")
}

func parseFile(t *testing.T, path, format string) (*Report, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, format)
}

func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	for name := range corpus {
		if _, ok := files[name]; !ok {
			t.Errorf("table lists %s, which the corpus does not have", name)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := files[name]
		t.Run(name, func(t *testing.T) {
			if isExpectation(name) {
				report := strings.TrimSuffix(strings.TrimSuffix(path, ".expected.results.json"), ".expected.exception") + ".xml"
				if _, err := os.Stat(report); err != nil {
					t.Fatalf("expectation without its report: %v", err)
				}
				return
			}
			want, ok := corpus[name]
			if !ok {
				t.Fatalf("corpus file %s is not in the table: add what parsing it must give", name)
			}
			r, err := parseFile(t, path, "")
			checkResult(t, r, err)
			if want.err != nil {
				if !errors.Is(err, want.err) {
					t.Fatalf("Parse = %v, %v; want an error wrapping %v", r, err, want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if r.Format != want.format {
				t.Errorf("format %q, want %q", r.Format, want.format)
			}
			if want.counts != nil && countsOf(r.Totals) != *want.counts {
				t.Errorf("counts %+v, want %+v", countsOf(r.Totals), *want.counts)
			}
			// The format detected is the format the explicit parser reads.
			again, err := parseFile(t, path, want.format)
			if err != nil || countsOf(again.Totals) != countsOf(r.Totals) {
				t.Errorf("Parse(%q) = %+v, %v; detection gave %+v", want.format, again, err, r.Totals)
			}
		})
	}
}

// enricoResults is the part of an EnricoMi/publish-unit-test-result-action *.results.json that
// holds the counts.
type enricoResults struct {
	Stats struct {
		Errors     []json.RawMessage `json:"errors"`
		Tests      int               `json:"tests"`
		TestsSucc  int               `json:"tests_succ"`
		TestsSkip  int               `json:"tests_skip"`
		TestsFail  int               `json:"tests_fail"`
		TestsError int               `json:"tests_error"`
		Runs       int               `json:"runs"`
	} `json:"stats"`
}

// TestEnricoMiExpectedResults checks our counts against the counts the authors of
// publish-unit-test-result-action expect for their JUnit files. Their fields map so:
//
//	tests       distinct tests: they merge testcases of one classname and name (their
//	            "tests" vs "runs"); we count each testcase as an invocation of its own,
//	            so the test merges ours by suite and name, the most severe outcome
//	            winning, as they do                                 → distinct(Cases)
//	tests_succ  → Totals.Passed
//	tests_skip  skipped and disabled → Totals.Skipped (JUnit has no todo)
//	tests_fail  → Totals.Failed
//	tests_error → Totals.Errored
//	runs        the testsuites' tests= attributes (counted from the cases where a suite has
//	            none)                                                 → Declared.Tests, else Totals.Runs
//	errors, *.expected.exception: the file does not parse          → an error
//
// A file without testcases takes its suites' attributes as test counts there, so for it we
// compare Declared. runs_succ/skip/fail/error are left out: they subtract suite attributes from
// one another, which they themselves get wrong (runs_succ is -2 for junit.multiresult; the 5
// disabled tests of tst/disabled vanish behind its skipped="0").
func TestEnricoMiExpectedResults(t *testing.T) {
	files := corpusFiles(t)
	checked := 0
	for name, path := range files {
		if !strings.HasSuffix(name, ".expected.results.json") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want enricoResults
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			report := strings.TrimSuffix(path, ".expected.results.json") + ".xml"
			_, statErr := os.Stat(strings.TrimSuffix(path, ".results.json") + ".exception")
			r, err := parseFile(t, report, FormatJUnit)
			checkResult(t, r, err)
			if len(want.Stats.Errors) > 0 || statErr == nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseJUnit = %+v, %v; they expect a parse error, want ErrMalformed", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJUnit: %v", err)
			}
			got := distinctCounts(r)
			if r.Totals.Total == 0 && r.Totals.Declared != nil {
				d := r.Totals.Declared
				got = counts{d.Tests, d.Tests - d.Failed - d.Errored - d.Skipped, d.Failed, d.Errored, d.Skipped, 0}
			}
			s := want.Stats
			if w := (counts{s.Tests, s.TestsSucc, s.TestsFail, s.TestsError, s.TestsSkip, 0}); got != w {
				t.Errorf("tests %+v, they expect %+v", got, w)
			}
			runs := r.Totals.Runs
			if r.Totals.Declared != nil {
				runs = r.Totals.Declared.Tests
			}
			if runs != s.Runs {
				t.Errorf("runs %d, they expect %d", runs, s.Runs)
			}
		})
		checked++
	}
	if checked < 19 {
		t.Errorf("checked %d expectation files, want the corpus's 19", checked)
	}
}

// distinctCounts counts the cases of r merged by suite and name, the most severe outcome of
// each group winning: how publish-unit-test-result-action counts its "tests".
func distinctCounts(r *Report) counts {
	merged := map[string]Outcome{}
	for _, c := range r.Cases {
		k := c.Suite + "\x00" + c.Name
		if o, ok := merged[k]; !ok || c.Outcome.severity() > o.severity() {
			merged[k] = c.Outcome
		}
	}
	var n counts
	for _, o := range merged {
		n.total++
		switch o {
		case Passed:
			n.passed++
		case Failed:
			n.failed++
		case Errored:
			n.errored++
		default:
			n.skipped++
		}
	}
	return n
}

// TestGoJUnitReportPairs parses the go test -json streams of go-junit-report's test data and the
// JUnit XML go-junit-report made of each: both must give the same tests with the same outcomes.
func TestGoJUnitReportPairs(t *testing.T) {
	dir := testenv.SharedDir(t, "reports/gotest-json")
	for _, pair := range []struct{ json, xml string }{
		{"100-pass", "100"}, {"101-fail", "101"}, {"102-broken", "102"},
		{"103-subtests", "103"}, {"104-race", "104"}, {"105-panic", "105"},
	} {
		t.Run(pair.json, func(t *testing.T) {
			fromJSON, err := parseFile(t, filepath.Join(dir, "go-junit-report_"+pair.json+".gojson.txt"), FormatGoTest)
			if err != nil {
				t.Fatal(err)
			}
			fromXML, err := parseFile(t, filepath.Join(dir, "go-junit-report_"+pair.xml+"-report.xml"), FormatJUnit)
			if err != nil {
				t.Fatal(err)
			}
			j, x := outcomesByID(fromJSON), outcomesByID(fromXML)
			if len(j) == 0 || !equalMaps(j, x) {
				t.Errorf("go test -json gives %v\nits JUnit XML gives %v", j, x)
			}
		})
	}
}

func outcomesByID(r *Report) map[string]Outcome {
	m := map[string]Outcome{}
	for _, c := range r.Cases {
		m[c.ID] = c.Outcome
	}
	return m
}

func equalMaps[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCorpusTruncated cuts every corpus report that parses in half: the half must be an error,
// never a smaller report.
func TestCorpusTruncated(t *testing.T) {
	for name, path := range corpusFiles(t) {
		want := corpus[name]
		if isExpectation(name) || want.err != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			full, err := Parse(bytes.NewReader(b), want.format)
			if err != nil {
				t.Fatal(err)
			}
			if full.Totals.Total == 0 {
				t.Skip("no tests to lose")
			}
			for _, cut := range []int{len(b) / 4, len(b) / 2, len(b) * 3 / 4} {
				r, err := Parse(bytes.NewReader(b[:cut]), want.format)
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("cut at %d of %d bytes: Parse = %+v, %v; want ErrMalformed", cut, len(b), r, err)
				}
			}
		})
	}
}

// checkResult checks what holds for every result of Parse: an error wraps one sentinel and
// comes without a report; a report is consistent with itself.
func checkResult(t testing.TB, r *Report, err error) {
	t.Helper()
	if err != nil {
		if r != nil {
			t.Errorf("a report (%+v) with the error %v", r.Totals, err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("error %v wraps no sentinel", err)
		}
		return
	}
	if r == nil {
		t.Fatal("no report and no error")
	}
	var want Totals
	ids := map[string]bool{}
	for _, c := range r.Cases {
		if c.ID == "" || c.Name == "" || ids[c.ID] {
			t.Errorf("case %+v: empty or repeated ID", c)
		}
		ids[c.ID] = true
		if c.ID != id(c.Suite, c.Name) && !strings.HasPrefix(c.ID, id(c.Suite, c.Name)+"#") {
			t.Errorf("case ID %q is not built from suite %q and name %q", c.ID, c.Suite, c.Name)
		}
		if c.Attempts < 1 || c.Duration < 0 || len(c.Message) > MaxMessage {
			t.Errorf("case %q: attempts %d, duration %v, message of %d bytes", c.ID, c.Attempts, c.Duration, len(c.Message))
		}
		want.Total++
		want.Runs += c.Attempts
		switch c.Outcome {
		case Passed:
			want.Passed++
		case Failed:
			want.Failed++
		case Errored:
			want.Errored++
		case Skipped:
			want.Skipped++
		case Todo:
			want.Todo++
		default:
			t.Errorf("case %q: outcome %q", c.ID, c.Outcome)
		}
	}
	want.Declared = r.Totals.Declared
	if r.Totals != want {
		t.Errorf("totals %+v, the cases count %+v", r.Totals, want)
	}
}
