package report

import "time"

// TestCase is one test of the application's own suite that a check ran (Layer 3). junit.xml
// shows each as a test case of its own, so CI systems list the suite's tests one by one.
type TestCase struct {
	Suite, Name string
	// Outcome is the test's outcome on the new image: passed, failed, errored or skipped.
	Outcome string
	// Change says how it differs from the old image ("regression", "pre-existing", …).
	Change   string
	Message  string
	Duration time.Duration
}

// TestCaser is the optional capability of a check result's Data that holds test cases.
type TestCaser interface {
	TestCases() []TestCase
}

// junitTestCases are the test cases a result carries, under the check's class.
func junitTestCases(class string, data any) []junitCase {
	tc, ok := data.(TestCaser)
	if !ok {
		return nil
	}
	var out []junitCase
	for _, t := range tc.TestCases() {
		c := junitCase{Name: cleanLine(t.Name), Classname: class + "." + cleanLine(t.Suite)}
		msg := cleanLine(t.Change)
		if t.Message != "" {
			msg += ": " + cleanLine(t.Message)
		}
		switch t.Outcome {
		case "failed":
			c.Failure = &junitProblem{Message: truncate(msg, junitMessage), Type: t.Change}
		case "errored":
			c.Error = &junitProblem{Message: truncate(msg, junitMessage), Type: t.Change}
		case "skipped":
			c.Skipped = &junitSkipped{Message: truncate(msg, junitMessage)}
		}
		out = append(out, c)
	}
	return out
}
