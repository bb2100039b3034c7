package testreport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// xmlResult is a result element of a testcase (failure, error, skipped, flakyFailure …).
type xmlResult struct {
	XMLName    xml.Name
	Message    string `xml:"message,attr"`
	Text       string `xml:",chardata"`
	StackTrace string `xml:"stackTrace"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Status    string      `xml:"status,attr"`
	Results   []xmlResult `xml:",any"`
}

// suiteCounts are the count attributes of a testsuite or testsuites element.
type suiteCounts struct {
	Declared
	any bool // at least one count attribute was there
}

func readCounts(attrs []xml.Attr) suiteCounts {
	var c suiteCounts
	for _, a := range attrs {
		n, err := strconv.Atoi(strings.TrimSpace(a.Value))
		if err != nil || n < 0 {
			continue
		}
		switch a.Name.Local {
		case "tests":
			c.Tests = n
		case "failures":
			c.Failed = n
		case "errors":
			c.Errored = n
		case "skipped", "disabled":
			c.Skipped += n
		default:
			continue
		}
		c.any = true
	}
	return c
}

func attr(attrs []xml.Attr, name string) string {
	for _, a := range attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func newXMLDecoder(b []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(sanitizeXML(b)))
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charsetReader
	return d
}

// sanitizeXML drops terminal colour codes and the other control characters XML forbids: test
// output carries them into failure messages, and one of them must not lose the whole report.
// Dropping (rather than replacing) keeps single-byte encodings intact.
func sanitizeXML(b []byte) []byte {
	bad := func(c byte) bool { return c < 0x20 && c != '\t' && c != '\n' && c != '\r' }
	first := bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 && bad(byte(r)) })
	if first < 0 {
		return b
	}
	b = ansiEscape.ReplaceAll(b, nil)
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if !bad(c) {
			out = append(out, c)
		}
	}
	return out
}

// charsetReader decodes the single-byte encodings JUnit files declare besides UTF-8.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}

// xmlRoot returns the local name of the root element.
func xmlRoot(b []byte) (string, error) {
	d := newXMLDecoder(b)
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("%w: XML: %v", ErrMalformed, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// junitParser walks the element tree of a JUnit file.
type junitParser struct {
	d        *xml.Decoder
	runs     []Case
	declared suiteCounts
	rootDecl suiteCounts
}

func parseJUnit(b []byte) (*Report, error) {
	p := &junitParser{d: newXMLDecoder(b)}
	root, err := p.root()
	if err != nil {
		return nil, err
	}
	switch root.Name.Local {
	case "testsuites":
		p.rootDecl = readCounts(root.Attr)
		err = p.suite(nil, true)
	case "testsuite":
		p.declared = readCounts(root.Attr)
		err = p.suite([]string{attr(root.Attr, "name")}, false)
	default:
		return nil, fmt.Errorf("%w: XML root <%s> is not JUnit (<testsuites> or <testsuite>)", ErrMalformed, root.Name.Local)
	}
	if err != nil {
		return nil, err
	}
	var declared *Declared
	switch {
	case p.declared.any:
		declared = &p.declared.Declared
	case p.rootDecl.any:
		declared = &p.rootDecl.Declared
	}
	return newReport(FormatJUnit, p.runs, false, declared), nil
}

func (p *junitParser) root() (xml.StartElement, error) {
	for {
		tok, err := p.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, fmt.Errorf("%w: JUnit XML without a root element", ErrMalformed)
			}
			return xml.StartElement{}, fmt.Errorf("%w: JUnit XML: %v", ErrMalformed, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// suite reads the content of a testsuites (top) or testsuite element up to its end tag.
func (p *junitParser) suite(path []string, top bool) error {
	for {
		tok, err := p.d.Token()
		if err != nil {
			return fmt.Errorf("%w: JUnit XML: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "testsuite":
				if len(path) >= maxDepth {
					return fmt.Errorf("%w: JUnit test suites nested deeper than %d", ErrMalformed, maxDepth)
				}
				if top {
					c := readCounts(t.Attr)
					p.declared.any = p.declared.any || c.any
					p.declared.Tests += c.Tests
					p.declared.Failed += c.Failed
					p.declared.Errored += c.Errored
					p.declared.Skipped += c.Skipped
				}
				sub := append(path[:len(path):len(path)], attr(t.Attr, "name"))
				if err := p.suite(sub, false); err != nil {
					return err
				}
			case "testcase":
				var c xmlCase
				if err := p.d.DecodeElement(&c, &t); err != nil {
					return fmt.Errorf("%w: JUnit XML testcase: %v", ErrMalformed, err)
				}
				p.runs = append(p.runs, p.testcase(path, c))
			default:
				if err := p.d.Skip(); err != nil {
					return fmt.Errorf("%w: JUnit XML: %v", ErrMalformed, err)
				}
			}
		}
	}
}

func (p *junitParser) testcase(path []string, x xmlCase) Case {
	levels := path[:len(path):len(path)]
	if cn := strings.TrimSpace(x.Classname); len(path) == 0 || cn != strings.TrimSpace(path[len(path)-1]) {
		levels = append(levels, cn) // surefire and go-junit-report repeat the suite name here
	}
	c := Case{Suite: joinPath(levels...), Name: strings.TrimSpace(x.Name), Outcome: Passed, Attempts: 1}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(x.Time), ",", ""), 64); err == nil {
		c.Duration = seconds(f)
	}
	var retried, flaky int
	var worst *xmlResult
	for i := range x.Results {
		r := &x.Results[i]
		var o Outcome
		switch r.XMLName.Local {
		case "error":
			o = Errored
		case "failure":
			o = Failed
		case "skipped":
			o = Skipped
		case "flakyFailure", "flakyError":
			flaky++
			if c.Message == "" {
				c.Message = resultMessage(r) // the first failed attempt; a final failure overrides it
			}
			continue
		case "rerunFailure", "rerunError":
			retried++
			continue
		default:
			continue
		}
		if worst == nil || o.severity() > c.Outcome.severity() {
			c.Outcome, worst = o, r
		}
	}
	switch {
	case worst != nil:
		c.Message = resultMessage(worst)
	case isSkipStatus(x.Status):
		c.Outcome = Skipped
	}
	c.Attempts += retried + flaky
	c.Flaky = flaky > 0 && c.Outcome == Passed
	return c
}

func isSkipStatus(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "disabled", "skipped", "notrun", "ignored":
		return true
	}
	return false
}

// resultMessage joins the message attribute and the text of a result element.
func resultMessage(r *xmlResult) string {
	msg := strings.TrimSpace(r.Message)
	text := strings.TrimSpace(r.Text)
	if text == "" {
		text = strings.TrimSpace(r.StackTrace)
	}
	switch {
	case text == "" || text == msg:
		return message(msg)
	case msg == "":
		return message(text)
	}
	return message(msg + "\n" + text)
}
