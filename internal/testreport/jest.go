package testreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

type jestReport struct {
	NumTotalTests   *int        `json:"numTotalTests"`
	NumFailedTests  int         `json:"numFailedTests"`
	NumPendingTests int         `json:"numPendingTests"`
	NumTodoTests    int         `json:"numTodoTests"`
	WasInterrupted  bool        `json:"wasInterrupted"`
	TestResults     *[]jestFile `json:"testResults"`
}

type jestFile struct {
	Name             string          `json:"name"`
	Status           string          `json:"status"`
	Message          string          `json:"message"`
	AssertionResults []jestAssertion `json:"assertionResults"`
}

type jestAssertion struct {
	AncestorTitles  []string `json:"ancestorTitles"`
	Title           string   `json:"title"`
	Status          string   `json:"status"`
	Duration        *float64 `json:"duration"`
	FailureMessages []string `json:"failureMessages"`
	Invocations     int      `json:"invocations"`
	RetryReasons    []string `json:"retryReasons"`
}

// jestSuiteFailed names the errored case of a test file that failed without a failing test, as
// Jest itself titles it.
const jestSuiteFailed = "Test suite failed to run"

func parseJest(b []byte) (*Report, error) {
	var j jestReport
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: Jest JSON: %v", ErrMalformed, err)
	}
	if j.TestResults == nil || j.NumTotalTests == nil {
		return nil, fmt.Errorf("%w: Jest JSON without testResults or numTotalTests", ErrMalformed)
	}
	if j.WasInterrupted {
		return nil, fmt.Errorf("%w: Jest run was interrupted", ErrIncomplete)
	}
	files := make([]string, len(*j.TestResults))
	for i, f := range *j.TestResults {
		files[i] = f.Name
	}
	root := suiteRoot(files)
	var runs []Case
	for _, f := range *j.TestResults {
		file := relative(f.Name, root)
		failed := false
		for _, a := range f.AssertionResults {
			c, err := jestCase(file, a)
			if err != nil {
				return nil, err
			}
			failed = failed || c.Outcome == Failed
			runs = append(runs, c)
		}
		if f.Status == "failed" && !failed {
			runs = append(runs, Case{Suite: file, Name: jestSuiteFailed, Outcome: Errored, Message: message(f.Message)})
		}
	}
	declared := &Declared{Tests: *j.NumTotalTests, Failed: j.NumFailedTests, Skipped: j.NumPendingTests, Todo: j.NumTodoTests}
	return newReport(FormatJest, runs, false, declared), nil
}

func jestCase(file string, a jestAssertion) (Case, error) {
	c := Case{Suite: file, Name: joinPath(append(a.AncestorTitles[:len(a.AncestorTitles):len(a.AncestorTitles)], a.Title)...), Attempts: a.Invocations}
	switch a.Status {
	case "passed":
		c.Outcome = Passed
		c.Flaky = len(a.RetryReasons) > 0 || a.Invocations > 1 // retryReasons needs logErrorsBeforeRetry
	case "failed":
		c.Outcome = Failed
		c.Message = message(strings.Join(a.FailureMessages, "\n"))
	case "pending", "skipped", "disabled":
		c.Outcome = Skipped
	case "todo":
		c.Outcome = Todo
	default:
		return Case{}, fmt.Errorf("%w: Jest test %q has unknown status %q", ErrMalformed, c.Name, a.Status)
	}
	if a.Duration != nil {
		c.Duration = seconds(*a.Duration / 1000)
	}
	return c, nil
}

type mochaReport struct {
	Stats *struct {
		Tests    int `json:"tests"`
		Pending  int `json:"pending"`
		Failures int `json:"failures"`
	} `json:"stats"`
	Tests    *[]mochaTest `json:"tests"`
	Pending  []mochaTest  `json:"pending"`
	Failures []mochaTest  `json:"failures"`
}

type mochaTest struct {
	FullTitle    string                     `json:"fullTitle"`
	File         string                     `json:"file"`
	Duration     float64                    `json:"duration"`
	CurrentRetry int                        `json:"currentRetry"`
	Err          map[string]json.RawMessage `json:"err"`
}

func (t mochaTest) key() string { return t.File + "\x00" + t.FullTitle }

// errMessage returns the message (or else the stack) of a mocha error.
func (t mochaTest) errMessage() string {
	for _, k := range []string{"message", "stack"} {
		var s string
		if json.Unmarshal(t.Err[k], &s) == nil && s != "" {
			return message(s)
		}
	}
	return ""
}

func parseMocha(b []byte) (*Report, error) {
	var m mochaReport
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: mocha JSON: %v", ErrMalformed, err)
	}
	if m.Stats == nil || m.Tests == nil {
		return nil, fmt.Errorf("%w: mocha JSON without stats or tests", ErrMalformed)
	}
	pending := make(map[string]bool, len(m.Pending))
	for _, t := range m.Pending {
		pending[t.key()] = true
	}
	tests := make(map[string]bool, len(*m.Tests))
	files := make([]string, 0, len(*m.Tests)+len(m.Failures))
	for _, t := range append(*m.Tests, m.Failures...) {
		files = append(files, t.File)
	}
	root := suiteRoot(files)
	var runs []Case
	for _, t := range *m.Tests {
		tests[t.key()] = true
		c := Case{Suite: relative(t.File, root), Name: t.FullTitle, Outcome: Passed, Duration: seconds(t.Duration / 1000), Attempts: t.CurrentRetry + 1}
		switch {
		case pending[t.key()]:
			c.Outcome = Skipped
		case len(t.Err) > 0:
			c.Outcome, c.Message = Failed, t.errMessage()
		default:
			c.Flaky = t.CurrentRetry > 0
		}
		runs = append(runs, c)
	}
	for _, t := range m.Failures {
		if !tests[t.key()] { // a failing hook ("before all" hook …) is no test of its own
			runs = append(runs, Case{Suite: relative(t.File, root), Name: t.FullTitle, Outcome: Errored, Message: t.errMessage()})
		}
	}
	declared := &Declared{Tests: m.Stats.Tests, Failed: m.Stats.Failures, Skipped: m.Stats.Pending}
	return newReport(FormatMocha, runs, false, declared), nil
}

// detectJSON names the format of a JSON report (t is trimmed and starts with '{').
func detectJSON(t []byte) (string, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal(t, &obj)
	if err != nil {
		// JSON lines: the first line decides.
		first, _, _ := bytes.Cut(t, []byte("\n"))
		if json.Unmarshal(first, &obj) != nil {
			return "", fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
		}
	}
	has := func(k string) bool { _, ok := obj[k]; return ok }
	switch {
	case has("Action"):
		return FormatGoTest, nil
	case err != nil:
	case has("testResults") || has("numTotalTests"):
		return FormatJest, nil
	case has("stats") && has("tests"):
		return FormatMocha, nil
	}
	return "", fmt.Errorf("%w: JSON is neither Jest (testResults), mocha (stats, tests) nor go test -json (Action)", ErrUnknownFormat)
}

// suiteRoot returns the directory the absolute test file paths of a report share, with its
// trailing separator, or "" when a path is relative or they share none: the root a JavaScript
// runner writes its absolute paths under (Jest's rootDir, mocha's working directory), so that
// a suite run from another folder keeps its test IDs.
func suiteRoot(paths []string) string {
	root := ""
	for i, p := range paths {
		if !absolute(p) {
			return ""
		}
		dir := p[:strings.LastIndexAny(p, `/\`)+1]
		if i == 0 {
			root = dir
			continue
		}
		n := 0
		for n < len(root) && n < len(dir) && root[n] == dir[n] {
			n++
		}
		root = root[:strings.LastIndexAny(root[:n], `/\`)+1]
	}
	return root
}

// absolute reports whether p is an absolute POSIX or Windows path.
func absolute(p string) bool {
	return strings.HasPrefix(p, "/") ||
		len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') && ('a' <= p[0]|32 && p[0]|32 <= 'z')
}

// relative returns path relative to root, with "/" as its separator.
func relative(path, root string) string {
	if root == "" || !strings.HasPrefix(path, root) {
		return path
	}
	return strings.ReplaceAll(path[len(root):], `\`, "/")
}
