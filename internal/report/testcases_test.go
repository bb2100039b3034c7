package report

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
)

type cases []TestCase

func (c cases) TestCases() []TestCase { return c }

func TestJUnitShowsTheSuitesOwnTests(t *testing.T) {
	r := &Report{SchemaVersion: SchemaVersion, Layers: []Layer{{Layer: check.L3Functional, Name: "functional", State: StateRan,
		Status: check.StatusFail, Results: []check.Result{{Layer: check.L3Functional, Check: "suite", Status: check.StatusFail,
			Message: "1 regression", Data: cases{
				{Suite: "fileprobe", Name: "TestMusl", Outcome: "passed", Change: "unchanged"},
				{Suite: "fileprobe", Name: "TestUdhcpdConfig", Outcome: "failed", Change: "regression", Message: "no /etc/udhcpd.conf"},
				{Suite: "fileprobe", Name: "TestKnown", Outcome: "skipped", Change: "quarantined"},
			}}}}}}
	var b strings.Builder
	if err := (JUnit{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	if s.Tests != 4 || s.Failures != 2 || s.Skipped != 1 {
		t.Fatalf("suite counts tests=%d failures=%d skipped=%d, want 4 2 1:\n%s", s.Tests, s.Failures, s.Skipped, b.String())
	}
	c := s.Cases[2]
	if c.Name != "TestUdhcpdConfig" || c.Classname != "plimsoll.L3.functional.suite.fileprobe" || c.Failure == nil ||
		c.Failure.Message != "regression: no /etc/udhcpd.conf" {
		t.Errorf("the regression's test case = %+v", c)
	}
}
