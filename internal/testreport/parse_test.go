package testreport

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wantCase is what a test asserts about one case, by ID.
type wantCase struct {
	outcome  Outcome
	attempts int    // 0: not checked
	flaky    bool   // checked always
	message  string // a substring of Message; "" checks nothing
}

func checkCases(t *testing.T, r *Report, want map[string]wantCase) {
	t.Helper()
	got := map[string]Case{}
	for _, c := range r.Cases {
		got[c.ID] = c
	}
	if len(got) != len(want) {
		ids := make([]string, 0, len(got))
		for k := range got {
			ids = append(ids, k)
		}
		t.Errorf("%d cases %q, want %d", len(got), ids, len(want))
	}
	for id, w := range want {
		c, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no case %q", id)
		case c.Outcome != w.outcome || c.Flaky != w.flaky || (w.attempts > 0 && c.Attempts != w.attempts):
			t.Errorf("%q: %s flaky=%v attempts=%d, want %s flaky=%v attempts=%d", id, c.Outcome, c.Flaky, c.Attempts, w.outcome, w.flaky, w.attempts)
		case !strings.Contains(c.Message, w.message):
			t.Errorf("%q: message %q does not contain %q", id, c.Message, w.message)
		}
	}
}

func TestJUnitVariations(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]wantCase
	}{{
		file: "surefire-rerun.xml",
		want: map[string]wantCase{
			"com.example.FlakyTest/passesOnRetry":  {outcome: Passed, attempts: 3, flaky: true, message: "expected:<1> but was:<2>"},
			"com.example.FlakyTest/failsEveryTime": {outcome: Failed, attempts: 3, message: "boom\njava.lang.AssertionError: boom"},
			"com.example.FlakyTest/stable":         {outcome: Passed, attempts: 1},
		},
	}, {
		file: "gradle-test-retry.xml",
		want: map[string]wantCase{
			"com.example.RetriedTest/flaky()":   {outcome: Failed, attempts: 1, message: "but was: <503>"},
			"com.example.RetriedTest/flaky()#2": {outcome: Passed, attempts: 1},
			"com.example.RetriedTest/solid()":   {outcome: Passed, attempts: 1},
			"com.example.RetriedTest/ignored()": {outcome: Skipped, attempts: 1},
		},
	}, {
		file: "latin1-control-chars.xml",
		want: map[string]wantCase{
			"café > Menü/crème brûlée": {outcome: Passed},
			"café > Menü/colour":       {outcome: Failed, message: "red\nexpected green got red"},
		},
	}} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := parseFile(t, filepath.Join("testdata", "junit", tc.file), "")
			checkResult(t, r, err)
			if err != nil {
				t.Fatal(err)
			}
			checkCases(t, r, tc.want)
		})
	}
}

func TestJUnitDetails(t *testing.T) {
	dir := corpusFiles(t)
	t.Run("nested suites make the suite path", func(t *testing.T) {
		r, err := parseFile(t, dir["junit/enricomi_testsuite-in-testsuite.xml"], FormatJUnit)
		if err != nil {
			t.Fatal(err)
		}
		checkCases(t, r, map[string]wantCase{
			"Project Test Suite > TestSuite1 > someName/TestCase1":                {outcome: Passed},
			"Project Test Suite > TestSuite1 > someName/TestCase2":                {outcome: Passed},
			"Project Test Suite > TestSuite2 > TestSuite2.1 > someName/TestCase3": {outcome: Passed},
			"Project Test Suite > TestSuite2 > someName/TestCase4":                {outcome: Passed},
			"Project Test Suite > someName/TestCase5":                             {outcome: Passed},
		})
		if r.Cases[0].Duration != 1321590*time.Microsecond {
			t.Errorf("duration %v, want 1.32159s", r.Cases[0].Duration)
		}
	})
	t.Run("entities, and the most severe of several results", func(t *testing.T) {
		r, err := parseFile(t, dir["junit/enricomi_with-xml-entities.xml"], FormatJUnit)
		if err != nil {
			t.Fatal(err)
		}
		checkCases(t, r, map[string]wantCase{
			`Test with "quotes" in the test name`:     {outcome: Skipped, message: `A message with "quotes"`},
			"Test with 'apostrophe' in the test name": {outcome: Failed, message: "A message with 'apostrophes'\nContent with 'apostrophes'"},
			"Test with & in the test name":            {outcome: Errored, message: "A message with &\nContent with &"},
			"Test with < and > in the test name":      {outcome: Skipped},
		})
		r, err = parseFile(t, dir["junit/enricomi_junit.multiresult.xml"], FormatJUnit)
		if err != nil {
			t.Fatal(err)
		}
		checkCases(t, r, map[string]wantCase{
			"test suite > test class/test that errors":     {outcome: Errored, message: "test teardown failure\nstdout"},
			"test suite > test class/test that fails":      {outcome: Failed, message: "test failure\nAssertion failed"},
			"test suite > test class/test that is skipped": {outcome: Skipped},
			"test suite > test class/test that succeeds":   {outcome: Passed},
		})
	})
	t.Run("unnamed testcases are named by position", func(t *testing.T) {
		r, err := parseFile(t, dir["junit/enricomi_no-attributes.xml"], FormatJUnit)
		if err != nil {
			t.Fatal(err)
		}
		checkCases(t, r, map[string]wantCase{"#1": {outcome: Passed}, "#2": {outcome: Skipped}, "#3": {outcome: Failed}, "#4": {outcome: Errored}})
	})
	t.Run("declared tests without cases", func(t *testing.T) {
		r, err := parseFile(t, dir["junit/enricomi_no-cases-but-tests.xml"], FormatJUnit)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Cases) != 0 || r.Totals.Declared == nil || *r.Totals.Declared != (Declared{Tests: 6, Failed: 1, Skipped: 2}) {
			t.Errorf("cases %v, declared %+v; want none and 6 declared, 1 failed, 2 skipped", r.Cases, r.Totals.Declared)
		}
	})
	for _, tc := range []struct{ name, xml string }{
		{"empty", ""},
		{"not XML", "<testsuites"},
		{"cut", `<testsuites><testsuite name="a"><testcase name="b"/>`},
		{"mismatched", `<testsuites><testsuite></testcase></testsuites>`},
		{"other root", `<suites><suite/></suites>`},
		{"unknown encoding", `<?xml version="1.0" encoding="EBCDIC-CP-US"?><testsuites/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJUnit(strings.NewReader(tc.xml))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseJUnit = %+v, %v; want ErrMalformed", r, err)
			}
		})
	}
}

func TestGoTest(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]wantCase
	}{{
		file: "testdata/gotest/go126-timeout.json",
		want: map[string]wantCase{
			"example.com/suite/timeout/TestQuick": {outcome: Passed},
			"example.com/suite/timeout/TestSlow":  {outcome: Failed, message: "waiting for a server that never answers\npanic: test timed out after 2s"},
		},
	}, {
		file: "testdata/gotest/go126-build-failed.json",
		want: map[string]wantCase{
			"example.com/suite/broken/[build failed]": {outcome: Errored, message: "undefined: undefinedCall"},
		},
	}, {
		file: "testdata/gotest/go126-testmain-exit.json",
		want: map[string]wantCase{
			"example.com/suite/mainexit/TestOne": {outcome: Passed},
			"example.com/suite/mainexit/Failure": {outcome: Errored, message: "leaked goroutines after the tests: 3"},
		},
	}, {
		file: "testdata/gotest/go126-count2-flaky.json",
		want: map[string]wantCase{
			"example.com/suite/flaky/TestSometimes": {outcome: Failed, attempts: 2, flaky: true, message: "first run: connection refused"},
			"example.com/suite/flaky/TestAlways":    {outcome: Passed, attempts: 2},
		},
	}, {
		file: "testdata/gotest/go126-two-packages.json",
		want: map[string]wantCase{
			"example.com/suite/skips/TestTable":              {outcome: Failed},
			"example.com/suite/skips/TestTable/plain":        {outcome: Passed},
			"example.com/suite/skips/TestTable/needs_docker": {outcome: Skipped, message: "no docker here"},
			"example.com/suite/skips/TestTable/broken_row":   {outcome: Failed, message: "got 2, want 3"},
			"example.com/suite/skips/TestParallel":           {outcome: Passed},
			"example.com/suite/skips/TestParallel/a":         {outcome: Passed},
			"example.com/suite/skips/TestParallel/b":         {outcome: Passed},
			"example.com/suite/mainexit/TestOne":             {outcome: Passed},
			"example.com/suite/mainexit/Failure":             {outcome: Errored, message: "leaked goroutines"},
		},
	}, {
		file: corpusFiles(t)["gotest-json/go-junit-report_104-race.gojson.txt"],
		want: map[string]wantCase{
			"package/name/race/TestRace": {outcome: Failed, message: "WARNING: DATA RACE"},
		},
	}, {
		file: corpusFiles(t)["gotest-json/go-junit-report_102-broken.gojson.txt"],
		want: map[string]wantCase{
			"package/name/broken/[build failed]": {outcome: Errored, message: "./main.go:5:2: undefined: fmt"},
		},
	}, {
		file: corpusFiles(t)["gotest-json/go-junit-report_105-panic.gojson.txt"],
		want: map[string]wantCase{
			"package/name/panic/Failure": {outcome: Errored, message: "panic: init"},
		},
	}} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			r, err := parseFile(t, tc.file, "")
			checkResult(t, r, err)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != FormatGoTest {
				t.Errorf("format %q", r.Format)
			}
			checkCases(t, r, tc.want)
		})
	}
	two := readFile(t, "testdata/gotest/go126-two-packages.json")
	firstDone := 0 // just after the final event of the package that ends first
	for _, l := range strings.SplitAfter(two, "\n") {
		firstDone += len(l)
		var ev goEvent
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail") {
			break
		}
	}
	if firstDone >= len(two) {
		t.Fatal("no package ends before the stream does")
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"only blank lines", "\n\n"},
		{"cut after the first of two packages", two[:firstDone]},
		{"cut inside a line", two[:len(two)-40]},
		{"plain go test -v", readFile(t, corpusFiles(t)["junit/go-junit-report_017-race.txt"])},
		{"a JSON line without an Action", `{"Package":"p"}` + "\n"},
		{"a test without a result in a passing package", `{"Action":"run","Package":"p","Test":"TestA"}` + "\n" + `{"Action":"pass","Package":"p"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseGoTest(strings.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseGoTest = %+v, %v; want ErrMalformed", r, err)
			}
		})
	}
}

func TestJest(t *testing.T) {
	const head = `{"numTotalTests":3,"numPassedTests":2,"numFailedTests":0,"numPendingTests":0,"numTodoTests":0,"wasInterrupted":false,`
	for _, tc := range []struct {
		name string
		json string
		want map[string]wantCase
		err  error
	}{{
		name: "retries, nulls, a duplicate title",
		json: head + `"testResults":[{"name":"/app/a.test.js","status":"passed","message":"","assertionResults":[
			{"ancestorTitles":["api","GET"],"title":"answers","status":"passed","duration":12,"failureMessages":[],"invocations":3,"retryReasons":["Error: ECONNRESET","Error: ECONNRESET"]},
			{"ancestorTitles":null,"title":"row","status":"passed","duration":null,"failureMessages":null},
			{"ancestorTitles":[],"title":"row","status":"disabled"}]}]}`,
		want: map[string]wantCase{
			"a.test.js/api > GET > answers": {outcome: Passed, attempts: 3, flaky: true},
			"a.test.js/row":                 {outcome: Passed, attempts: 1},
			"a.test.js/row#2":               {outcome: Skipped},
		},
	}, {
		name: "a failed suite with a failing test gets no extra case",
		json: head + `"testResults":[{"name":"b.test.js","status":"failed","message":"● b › x","assertionResults":[
			{"ancestorTitles":["b"],"title":"x","status":"failed","failureMessages":["\u001b[31mError: expect(received).toBe(expected)\u001b[39m"]}]}]}`,
		want: map[string]wantCase{"b.test.js/b > x": {outcome: Failed, message: "Error: expect(received).toBe(expected)"}},
	}, {
		name: "interrupted",
		json: `{"numTotalTests":0,"wasInterrupted":true,"testResults":[]}`,
		err:  ErrIncomplete,
	}, {
		name: "unknown status",
		json: head + `"testResults":[{"name":"c","status":"passed","assertionResults":[{"title":"t","status":"focused"}]}]}`,
		err:  ErrMalformed,
	}, {
		name: "no testResults",
		json: `{"numTotalTests":3}`,
		err:  ErrMalformed,
	}, {
		name: "cut",
		json: head + `"testResults":[{"name":"c","status":"passed","assertionResults":[{"title":"t"`,
		err:  ErrMalformed,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJest(strings.NewReader(tc.json))
			checkResult(t, r, err)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseJest = %+v, %v; want %v", r, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkCases(t, r, tc.want)
		})
	}
	r, err := parseFile(t, corpusFiles(t)["jest/jest30_e2e-test-todo.json"], FormatJest)
	if err != nil {
		t.Fatal(err)
	}
	var suiteFailed int
	for _, c := range r.Cases {
		if c.Name == jestSuiteFailed {
			suiteFailed++
			if c.Outcome != Errored || !strings.Contains(c.Message, "Todo must be called with only a description.") {
				t.Errorf("%q: %s %q", c.ID, c.Outcome, c.Message)
			}
		}
	}
	if suiteFailed != 3 {
		t.Errorf("%d suites failed to run, want the 3 of numRuntimeErrorTestSuites", suiteFailed)
	}
	if d := r.Totals.Declared; d == nil || *d != (Declared{Tests: 10, Failed: 1, Skipped: 1, Todo: 6}) {
		t.Errorf("declared %+v", d)
	}
}

func TestMocha(t *testing.T) {
	r, err := parseFile(t, corpusFiles(t)["jest/dorny_mocha-json.json"], FormatMocha)
	if err != nil {
		t.Fatal(err)
	}
	// Absolute Windows paths, named relative to the folder they share.
	const main, second = "main.test.js", "second.test.js"
	checkCases(t, r, map[string]wantCase{
		second + "/Timeout test":                           {outcome: Failed, message: "Timeout of 1ms exceeded"},
		second + "/Skipped test":                           {outcome: Skipped},
		main + "/Test 1 Passing test":                      {outcome: Passed},
		main + "/Test 1 Test 1.1 Failing test":             {outcome: Failed, message: "Expected values to be strictly equal"},
		main + "/Test 1 Test 1.1 Exception in target unit": {outcome: Failed, message: "Some error"},
		main + "/Test 2 Exception in test":                 {outcome: Failed, message: "Some error"},
	})
	r, err = ParseMocha(strings.NewReader(`{"stats":{"tests":1,"passes":1,"pending":0,"failures":1},
		"tests":[{"title":"t","fullTitle":"s t","file":"f.js","duration":3,"currentRetry":2,"err":{}}],
		"failures":[{"title":"\"before all\" hook","fullTitle":"s \"before all\" hook","file":"f.js","err":{"message":"db down"}}],
		"pending":[],"passes":[]}`))
	checkResult(t, r, err)
	if err != nil {
		t.Fatal(err)
	}
	checkCases(t, r, map[string]wantCase{
		"f.js/s t":                 {outcome: Passed, attempts: 3, flaky: true},
		`f.js/s "before all" hook`: {outcome: Errored, message: "db down"},
	})
	if _, err := ParseMocha(strings.NewReader(`{"stats":{"tests":1}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("mocha JSON without tests: %v, want ErrMalformed", err)
	}
}

func TestTAP(t *testing.T) {
	for _, tc := range []struct {
		name string
		tap  string
		want map[string]wantCase
		err  error
	}{{
		name: "directives, escapes, unnamed points, YAML",
		tap: `TAP version 14
1..6
ok 1 - plain
not ok 2 - skipped failure # skip no network
ok 3 - ` + `issue \# 5 # Todo later
not ok 4 - with diagnostics
  ---
  message: 'expected 3, got 4'
  severity: fail
  duration_ms: 1500
  ...
not ok 5 whole block
  ---
  got: 4
  want: 3
  ...
ok 6
`,
		want: map[string]wantCase{
			"plain":            {outcome: Passed},
			"skipped failure":  {outcome: Skipped, message: "no network"},
			"issue # 5":        {outcome: Todo, message: "later"},
			"with diagnostics": {outcome: Failed, message: "expected 3, got 4"},
			"whole block":      {outcome: Failed, message: "got: 4\nwant: 3"},
			"#6":               {outcome: Passed},
		},
	}, {
		name: "a failed subtest whose points all passed is a case",
		tap: `TAP version 14
# Subtest: setup
    ok 1 - connects
    1..1
not ok 1 - setup
  ---
  error: 'plan of 1 but test count 2'
  ...
1..1
`,
		want: map[string]wantCase{
			"setup/connects": {outcome: Passed},
			"setup":          {outcome: Failed, message: "plan of 1 but test count 2"},
		},
	}, {
		name: "a duplicate name gets a suffix",
		tap:  "1..2\nok 1 should be equal\nnot ok 2 should be equal\n",
		want: map[string]wantCase{"should be equal": {outcome: Passed}, "should be equal#2": {outcome: Failed}},
	}, {
		name: "a description ending in { without a block",
		tap:  "1..2\nok 1 - parses {\nok 2 - next\n",
		want: map[string]wantCase{"parses": {outcome: Passed}, "next": {outcome: Passed}},
	}, {
		name: "bail out", err: ErrIncomplete,
		tap: "1..3\nok 1 - a\nBail out! database unreachable\n",
	}, {
		name: "bail out in a subtest", err: ErrIncomplete,
		tap: "1..1\n# Subtest: s\n    ok 1 - a\n    Bail out!\n",
	}, {
		name: "fewer points than planned", err: ErrMalformed,
		tap: "TAP version 13\n1..3\nok 1 - a\nok 2 - b\n",
	}, {
		name: "more points than planned", err: ErrMalformed,
		tap: "1..1\nok 1 - a\nok 2 - b\n",
	}, {
		name: "no plan", err: ErrMalformed,
		tap: "TAP version 13\nok 1 - a\nok 2 - b\n",
	}, {
		name: "a point after the closing plan", err: ErrMalformed,
		tap: "ok 1 - a\n1..1\nok 2 - b\n",
	}, {
		name: "two plans", err: ErrMalformed,
		tap: "1..1\nok 1 - a\n1..1\n",
	}, {
		name: "a subtest short of its plan", err: ErrMalformed,
		tap: "1..1\n# Subtest: s\n    1..2\n    ok 1 - a\nok 1 - s\n",
	}, {
		name: "a subtest without its closing point", err: ErrMalformed,
		tap: "1..1\n# Subtest: s\n    ok 1 - a\n# Subtest: t\n    ok 1 - b\nok 1 - t\n",
	}, {
		name: "a buffered subtest without }", err: ErrMalformed,
		tap: "1..2\nok 1 - s {\n    ok 1 - a\n    1..1\nok 2 - b\n",
	}, {
		name: "the last point without its line end", err: ErrMalformed,
		tap: "1..2\nok 1 - a\nok 2 - b",
	}, {
		name: "empty", err: ErrMalformed,
		tap: "",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseTAP(strings.NewReader(tc.tap))
			checkResult(t, r, err)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseTAP = %+v, %v; want %v", r, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkCases(t, r, tc.want)
		})
	}
	r, err := parseFile(t, corpusFiles(t)["tap/tapjs_indent.tap"], FormatTAP)
	if err != nil {
		t.Fatal(err)
	}
	checkCases(t, r, map[string]wantCase{
		"first/true is ok":                   {outcome: Passed},
		"first/doag is also okay":            {outcome: Passed},
		"second/no plan":                     {outcome: Passed},
		"second > this passes/granddaughter": {outcome: Skipped, message: "for no raisin"},
		"second > this passes/grandson":      {outcome: Passed},
		"second > this passes/grandchild":    {outcome: Todo},
	})
	if c := r.Cases[0]; c.Duration != 1234*time.Microsecond {
		t.Errorf("%q: duration %v, want 1.234ms from # time=", c.ID, c.Duration)
	}
	r, err = parseFile(t, corpusFiles(t)["tap/tapjs_node-test-cjs.tap"], FormatTAP)
	if err != nil {
		t.Fatal(err)
	}
	checkCases(t, r, map[string]wantCase{
		"uhoh, this one throws":   {outcome: Failed, message: "Invalid time value"},
		"test thing/nesting test": {outcome: Failed, message: "ok"},
	})
	if c := r.Cases[0]; c.Duration != 686334*time.Nanosecond {
		t.Errorf("%q: duration %v, want 0.686334ms from duration_ms", c.ID, c.Duration)
	}
	r, err = parseFile(t, corpusFiles(t)["tap/tapjs_perl-test2-buffered.tap"], FormatTAP)
	if err != nil {
		t.Fatal(err)
	}
	checkCases(t, r, map[string]wantCase{
		"empty":                                {outcome: Failed},
		"my_test/subtest event A":              {outcome: Passed},
		"my_test/subtest event B":              {outcome: Passed},
		"my_test_plan/subtest event A":         {outcome: Passed},
		"my_test_plan/subtest event B":         {outcome: Passed},
		"my_streamy_test/subtest event A":      {outcome: Passed},
		"my_streamy_test/subtest event B":      {outcome: Passed},
		"my_streamy_test_plan/subtest event A": {outcome: Passed},
		"my_streamy_test_plan/subtest event B": {outcome: Passed},
	})
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, in, format string
		err              error
	}{
		{"junit with BOM and comment", "\ufeff<?xml version=\"1.0\"?>\n<!-- x -->\n<testsuite/>", FormatJUnit, nil},
		{"other XML", "<html><body/></html>", "", ErrUnknownFormat},
		{"broken XML", "<", "", ErrMalformed},
		{"jest", `{"numTotalTests":0,"testResults":[]}`, FormatJest, nil},
		{"mocha", `{"stats":{},"tests":[]}`, FormatMocha, nil},
		{"go test json lines", "{\"Action\":\"start\",\"Package\":\"p\"}\n{\"Action\":\"pass\",\"Package\":\"p\"}\n", FormatGoTest, nil},
		{"go build failure text", "# p\n./a.go:1: bad\nFAIL\tp [build failed]\n", FormatGoTest, nil},
		{"other JSON", `{"results":[]}`, "", ErrUnknownFormat},
		{"cut JSON", `{"numTotalTests":1,"testRes`, "", ErrMalformed},
		{"tap after comments", "# hello\n\nok 1\n1..1\n", FormatTAP, nil},
		{"tap plan first", "1..0 # skip\n", FormatTAP, nil},
		{"plain go test -v", "=== RUN   TestA\n--- PASS: TestA (0.00s)\nok  \tp\t0.1s\n", "", ErrUnknownFormat},
		{"prose", "hello world\n", "", ErrUnknownFormat},
		{"empty", " \n\t", "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect([]byte(tc.in))
			if got != tc.format || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("Detect = %q, %v; want %q, %v", got, err, tc.format, tc.err)
			}
		})
	}
	if _, err := Parse(strings.NewReader("1..0\n"), "nunit"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Parse with format nunit: %v, want ErrUnknownFormat", err)
	}
}

func TestEmptyInputIsMalformed(t *testing.T) {
	for _, format := range formats {
		for _, in := range []string{"", "\n", "   \n\n"} {
			if r, err := Parse(strings.NewReader(in), format); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q, %s) = %+v, %v; want ErrMalformed", in, format, r, err)
			}
		}
	}
}

func TestMessage(t *testing.T) {
	// "x" then two-byte runes: byte 4080, where the tail would start, is inside a rune.
	long := "x" + strings.Repeat("é", MaxMessage)
	for _, tc := range []struct{ in, want string }{
		{"  \x1b[31mred\x1b[0m\n", "red"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{long, long[:4079] + "\n… (truncated)"},
	} {
		if got := message(tc.in); got != tc.want || len(got) > MaxMessage {
			t.Errorf("message(%.20q…) = %.40q… (%d bytes), want %.40q…", tc.in, got, len(got), tc.want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
