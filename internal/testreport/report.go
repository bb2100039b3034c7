package testreport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors; every error about a report's content wraps one of them (an error reading the
// io.Reader comes back wrapped as it is).
var (
	// ErrMalformed: the input is not a complete report of its format (cut, empty, inconsistent).
	ErrMalformed = errors.New("malformed test report")
	// ErrIncomplete: the report is well-formed but says the run stopped before all tests ran
	// (TAP "Bail out!", Jest wasInterrupted).
	ErrIncomplete = errors.New("incomplete test run")
	// ErrUnknownFormat: the format name is not supported, or detection recognised no format.
	ErrUnknownFormat = errors.New("unknown test report format")
)

// Format names, as Parse takes them and Report.Format holds them.
const (
	FormatJUnit  = "junit"
	FormatJest   = "jest"
	FormatMocha  = "mocha-json"
	FormatGoTest = "gotest-json"
	FormatTAP    = "tap"
)

// formats lists the supported format names.
var formats = []string{FormatJUnit, FormatJest, FormatMocha, FormatGoTest, FormatTAP}

// Outcome is the result of one test; see the package documentation for how each format maps.
type Outcome string

// Outcomes.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Errored Outcome = "errored"
	Skipped Outcome = "skipped"
	Todo    Outcome = "todo"
)

// severity orders outcomes for merging runs of one test: the larger wins.
func (o Outcome) severity() int {
	switch o {
	case Errored:
		return 5
	case Failed:
		return 4
	case Passed:
		return 3
	case Todo:
		return 2
	default:
		return 1
	}
}

// Bad reports whether the outcome is a failure (failed or errored).
func (o Outcome) Bad() bool { return o == Failed || o == Errored }

// Case is one test of a report.
type Case struct {
	Suite    string
	Name     string
	ID       string // stable across runs: Suite + "/" + Name, or Name without a suite; unique in a Report
	Outcome  Outcome
	Duration time.Duration
	Message  string // failure, error or skip message, at most MaxMessage bytes
	Attempts int    // runs of the test in this report; >1 when a runner retried or repeated it
	Flaky    bool   // the runs disagreed: it failed at least once and passed at least once
}

// Declared holds the counts a report states about itself, where the format has them. Fields the
// format does not declare are zero.
type Declared struct {
	Tests, Failed, Errored, Skipped, Todo int
}

// Totals counts the cases of a report by outcome.
type Totals struct {
	Total, Passed, Failed, Errored, Skipped, Todo int
	Runs                                          int       // sum of Attempts
	Declared                                      *Declared // nil when the report declares nothing
}

// PassRate is passed / (total - skipped - todo) of one report.
type PassRate struct {
	Passed, Ran int
}

// Ratio returns Passed/Ran, and false when no test ran.
func (p PassRate) Ratio() (float64, bool) {
	if p.Ran <= 0 {
		return 0, false
	}
	return float64(p.Passed) / float64(p.Ran), true
}

// PassRate returns the pass rate of the counted cases.
func (t Totals) PassRate() PassRate {
	return PassRate{Passed: t.Passed, Ran: t.Total - t.Skipped - t.Todo}
}

// Report is one parsed test report.
type Report struct {
	Format string
	Cases  []Case
	Totals Totals
}

// MaxMessage is the most bytes a Case.Message keeps.
const MaxMessage = 4096

// maxInput is the largest report read; a larger one is an error, not a truncated read.
const maxInput = 256 << 20

// maxDepth is the deepest nesting of suites or subtests read; real reports stay far below it.
const maxDepth = 100

// Parse reads a report of the given format; format "" detects it from the content (see Detect).
func Parse(r io.Reader, format string) (*Report, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	if format == "" {
		if format, err = Detect(b); err != nil {
			return nil, err
		}
	}
	switch format {
	case FormatJUnit:
		return parseJUnit(b)
	case FormatJest:
		return parseJest(b)
	case FormatMocha:
		return parseMocha(b)
	case FormatGoTest:
		return parseGoTest(b)
	case FormatTAP:
		return parseTAP(b)
	}
	return nil, fmt.Errorf("%w: %q (supported: %s)", ErrUnknownFormat, format, strings.Join(formats, ", "))
}

// ParseJUnit reads JUnit XML.
func ParseJUnit(r io.Reader) (*Report, error) { return Parse(r, FormatJUnit) }

// ParseJest reads the output of jest --json.
func ParseJest(r io.Reader) (*Report, error) { return Parse(r, FormatJest) }

// ParseMocha reads the output of mocha --reporter json.
func ParseMocha(r io.Reader) (*Report, error) { return Parse(r, FormatMocha) }

// ParseGoTest reads the output of go test -json.
func ParseGoTest(r io.Reader) (*Report, error) { return Parse(r, FormatGoTest) }

// ParseTAP reads TAP 13 or 14.
func ParseTAP(r io.Reader) (*Report, error) { return Parse(r, FormatTAP) }

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read test report: %w", err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%w: report larger than %d bytes", ErrMalformed, maxInput)
	}
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), nil
}

// Detect names the format of a report from its content: an XML root <testsuites> or <testsuite>
// is junit; a JSON object with testResults or numTotalTests is jest, with stats and tests
// mocha-json; JSON lines with "Action" (or only the plain-text build failure an old go command
// prints for go test -json) are gotest-json; a first TAP line (a version, a plan, a test point
// or "Bail out!", after comments) is tap.
func Detect(b []byte) (string, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return "", fmt.Errorf("%w: empty report", ErrMalformed)
	}
	switch t[0] {
	case '<':
		root, err := xmlRoot(b)
		if err != nil {
			return "", err
		}
		if root == "testsuites" || root == "testsuite" {
			return FormatJUnit, nil
		}
		return "", fmt.Errorf("%w: XML root <%s> is not JUnit (<testsuites> or <testsuite>)", ErrUnknownFormat, root)
	case '{':
		return detectJSON(t)
	}
	if goBuildFailureOnly(t) {
		return FormatGoTest, nil
	}
	if looksLikeTAP(t) {
		return FormatTAP, nil
	}
	return "", fmt.Errorf("%w: not JUnit XML, Jest or mocha JSON, go test -json or TAP", ErrUnknownFormat)
}

// id builds a case ID.
func id(suite, name string) string {
	if suite == "" {
		return name
	}
	return suite + "/" + name
}

// joinPath joins grouping levels with " > ", dropping empty levels.
func joinPath(levels ...string) string {
	var out []string
	for _, l := range levels {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, " > ")
}

// newReport turns the runs a parser saw, in file order, into a Report. With merge, runs sharing
// an ID are one test; without, later duplicates get a "#n" suffix. A run without a name is named
// "#N" after its position.
func newReport(format string, runs []Case, merge bool, declared *Declared) *Report {
	r := &Report{Format: format, Cases: make([]Case, 0, len(runs))}
	index := make(map[string]int, len(runs))
	suffix := map[string]int{} // the next "#n" to try for an ID, so that n duplicates cost O(n)
	for i, c := range runs {
		if c.Attempts < 1 {
			c.Attempts = 1
		}
		if c.Name = strings.TrimSpace(c.Name); c.Name == "" {
			c.Name = "#" + strconv.Itoa(i+1) // by position: a test without a name still needs an ID
		}
		c.ID = id(c.Suite, c.Name)
		i, seen := index[c.ID]
		switch {
		case !seen:
		case merge:
			r.Cases[i] = mergeRuns(r.Cases[i], c)
			continue
		default:
			base, n := c.ID, max(suffix[c.ID], 2)
			for ; seen; n++ {
				c.ID = base + "#" + strconv.Itoa(n)
				_, seen = index[c.ID]
			}
			suffix[base] = n
		}
		index[c.ID] = len(r.Cases)
		r.Cases = append(r.Cases, c)
	}
	r.Totals = count(r.Cases)
	r.Totals.Declared = declared
	return r
}

// mergeRuns folds run b of a test into a.
func mergeRuns(a, b Case) Case {
	pass := a.Outcome == Passed || b.Outcome == Passed
	fail := a.Outcome.Bad() || b.Outcome.Bad()
	out := a
	if b.Outcome.severity() > a.Outcome.severity() {
		out.Outcome, out.Message = b.Outcome, b.Message
	}
	out.Duration = a.Duration + b.Duration
	out.Attempts = a.Attempts + b.Attempts
	out.Flaky = a.Flaky || b.Flaky || (pass && fail)
	return out
}

func count(cases []Case) Totals {
	var t Totals
	for _, c := range cases {
		t.Total++
		t.Runs += c.Attempts
		switch c.Outcome {
		case Passed:
			t.Passed++
		case Failed:
			t.Failed++
		case Errored:
			t.Errored++
		case Skipped:
			t.Skipped++
		case Todo:
			t.Todo++
		}
	}
	return t
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// message cleans a message for a Case: valid UTF-8, no terminal colours, trimmed, and at most
// MaxMessage bytes.
func message(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.TrimSpace(ansiEscape.ReplaceAllString(s, ""))
	if len(s) <= MaxMessage {
		return s
	}
	const tail = "\n… (truncated)"
	cut := MaxMessage - len(tail)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + tail
}

// seconds converts a duration in (fractional) seconds, clamping nonsense to zero.
func seconds(f float64) time.Duration {
	if !(f > 0) || f > 1e9 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// lines splits b into lines without their line ending.
func lines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	out := strings.Split(s, "\n")
	if len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
