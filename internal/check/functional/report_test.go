package functional

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

// TestUnreadableReportNamesTheFormat: a detected report that does not parse says which format
// it was read as, not "detected".
func TestUnreadableReportNamesTheFormat(t *testing.T) {
	for _, tc := range []struct {
		name, report, want string
		sentinel           error
	}{
		{"cut JUnit", `<testsuites><testsuite name="a"><testcase name="b"/>`, "read the report (junit report from stdout of", testreport.ErrMalformed},
		{"cut Jest", `{"numTotalTests": 1, "testResults": [`, "read the report (unrecognised report from stdout of", testreport.ErrMalformed},
		{"go test -v text", "=== RUN   TestA\n--- PASS: TestA (0.00s)\n", "read the report (unrecognised report from stdout of", testreport.ErrUnknownFormat},
		{"TAP without its plan", "TAP version 13\nok 1 - a\n", "read the report (tap report from stdout of", testreport.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runFake(context.Background(), config.Functional{}, nil, []byte(tc.report))
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %v saying %q", err, tc.sentinel, tc.want)
			}
		})
	}
}
