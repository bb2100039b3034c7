package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// JUnit writes junit.xml for CI: one <testsuite> per layer ("L1 diff"), one <testcase> per
// check (classname "plimsoll.L1.diff", name the check's name). A failed check is a <failure>,
// a check that could not tell (error, inconclusive) an <error>, and a warning passes with
// "CAUTION: …" in <system-out>. A layer that did not run (not run, excluded, not planned) is a
// suite with one <skipped> testcase, so CI shows what was not verified. Every suite carries the
// run's properties (images, digests, plan, verdict). Times are in seconds. Strings are stripped
// of the characters XML 1.0 forbids, so the file always parses.
type JUnit struct{}

// Format is the name --output knows it by.
func (JUnit) Format() string { return "junit" }

// Filename is the file WriteDir writes it to.
func (JUnit) Filename() string { return "junit.xml" }

// junitRows is how many rows of a table a failure or system-out body shows.
const junitRows = 50

// junitMessage is the longest a message attribute gets; the body has the whole message.
const junitMessage = 1000

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr,omitempty"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut *junitText    `xml:"system-out"`
}

// junitText is text kept as CDATA, so its lines stay lines in the file (encoding/xml splits
// any "]]>" in it).
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// Encode writes r to w as JUnit XML.
func (JUnit) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	props := junitProperties(r)
	all := junitSuites{Name: "plimsoll " + headline(r)}
	if !r.StartedAt.IsZero() && r.FinishedAt.After(r.StartedAt) {
		all.Time = seconds(Duration(r.FinishedAt.Sub(r.StartedAt)))
	}
	for _, l := range r.Layers {
		class := fmt.Sprintf("plimsoll.L%d.%s", int(l.Layer), cleanLine(l.Name))
		s := junitSuite{Name: layerLabel(l), Time: seconds(l.Duration), Properties: props}
		if l.State != StateRan {
			why := cleanLine(l.State)
			if l.Why != "" {
				why = cleanLine(l.Why)
			}
			s.Cases = append(s.Cases, junitCase{Name: cleanLine(l.State), Classname: class,
				Skipped: &junitSkipped{Message: truncate("not run: "+why, junitMessage)}})
		}
		for _, res := range l.Results {
			s.Cases = append(s.Cases, junitResult(class, res))
			s.Cases = append(s.Cases, junitTestCases(class+"."+cleanLine(res.Check), res.Data)...)
		}
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		s.Tests = len(s.Cases)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, s)
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	return nil
}

// junitResult is the testcase of one check.
func junitResult(class string, res check.Result) junitCase {
	c := junitCase{Name: cleanLine(res.Check), Classname: class}
	msg := cleanLine(res.Message)
	switch res.Status {
	case check.StatusFail:
		c.Failure = &junitProblem{Message: truncate(msg, junitMessage), Type: "fail", Body: junitBody("", res)}
	case check.StatusError, check.StatusInconclusive:
		c.Error = &junitProblem{Message: truncate(msg, junitMessage), Type: res.Status.String(), Body: junitBody("", res)}
	case check.StatusSkipped:
		c.Skipped = &junitSkipped{Message: truncate("not run: "+msg, junitMessage)}
	case check.StatusWarn:
		c.SystemOut = &junitText{junitBody("CAUTION: ", res)}
	default:
		c.SystemOut = &junitText{junitBody("", res)}
	}
	return c
}

// junitBody is the whole story of a result as text: message, evidence and tables.
func junitBody(prefix string, res check.Result) string {
	var b strings.Builder
	b.WriteString(prefix + cleanBlock(res.Message) + "\n")
	for _, ev := range evidence(res.Measured, res.Baseline, res.Threshold, res.Source) {
		fmt.Fprintf(&b, "%-9s  %s\n", ev[0], ev[1])
	}
	for _, t := range shownTables(res) {
		fmt.Fprintf(&b, "\n%s (%d %s)\n", cleanLine(t.Title), len(t.Rows), plural(len(t.Rows), "row", "rows"))
		for _, l := range textTable(t, junitRows, textCell, "  ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// junitProperties are the facts of the run every suite carries.
func junitProperties(r *Report) []junitProperty {
	var ps []junitProperty
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, junitProperty{Name: name, Value: cleanLine(value)})
		}
	}
	add("plimsoll.run.id", r.RunID)
	add("plimsoll.version", r.Tool.Version)
	if r.Old != nil {
		add("plimsoll.old.ref", label(r.Old))
		add("plimsoll.old.digest", r.Old.Digest)
	} else {
		add("plimsoll.old.ref", "(none: first deployment)")
	}
	add("plimsoll.new.ref", label(&r.New))
	add("plimsoll.new.digest", r.New.Digest)
	add("plimsoll.plan.kind", r.Plan.Kind)
	add("plimsoll.plan.risk", r.Plan.Risk)
	add("plimsoll.verdict", string(r.Verdict.Decision))
	add("plimsoll.verdict.summary", r.Verdict.Summary)
	return ps
}

// seconds writes a duration in seconds with millisecond precision, as JUnit wants.
func seconds(d Duration) string {
	return strconv.FormatFloat(float64(d)/1e9, 'f', 3, 64)
}
