// Package functional is Layer 3 of the gate: it runs the application's own test suite against
// OLD and NEW, the way the policy's functional section says, reads the report each run writes
// (internal/testreport: JUnit, Jest, mocha, go test -json, TAP), and compares the two test by
// test.
//
// A suite runs inside a one-shot container of the image under test (functional.command), or as
// a separate runner against the app started from the image (functional.runner): a container of
// a runner image on the host's network, or a command on the host, told the app's loopback
// address in APP_URL, APP_HOST and APP_PORT. The report is copied out of the container after
// the suite exits (functional.resultsFile, through the runtime's optional CopyFile) or read
// from the suite's stdout.
//
// With functional.reruns = N, a suite with failing tests runs again, whole, up to N more times
// on the same image while failures remain unexplained; a test that failed and then passed on a
// rerun is flaky: reported, and counted as passed. The pass rate is the share of the NEW tests
// that ran (skipped, todo and quarantined tests left out) and passed. Above thresholds.go
// (99 %) the suite passes, from thresholds.noGo (95 %) to go it is CAUTION, below it NO-GO; a
// test that fails on NEW and not on OLD — a regression, or a new test that fails — and is not
// quarantined makes it at least CAUTION whatever the rate. Tests failing on both are reported
// as pre-existing. Without OLD (a first deployment) every failing test counts as new.
//
// A report that cannot be read (malformed, cut, of an unknown format), a suite that does not
// finish in functional.timeout, or one that exits non-zero while its report shows no failure
// is an error — never a pass. Every container is stopped on every path.
package functional

import (
	"context"
	"errors"
	"fmt"
	"github.com/plimsoll/plimsoll/internal/report"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

// CheckSuite is the name of the layer's check.
const CheckSuite = "suite"

// ErrTimeout: a suite did not finish within functional.timeout.
var ErrTimeout = errors.New("test suite timed out")

// Data is the machine-readable evidence of the suite check (Result.Data): both reports, as
// parsed (reruns merged), and their per-test comparison. Old is nil without an OLD image. In
// JSON it is written compactly (see MarshalJSON): each test once, the unchanged ones counted.
type Data struct {
	Old   *testreport.Report
	New   *testreport.Report
	Delta testreport.Delta
}

// New returns Layer 3's checks for a run: one check, "suite". Without functional.command or
// functional.runner it is skipped, saying so.
func New(rt runtime.Runtime, ld launch.Loader, app config.App, f config.Functional, runID string) []check.Check {
	return []check.Check{&suiteCheck{rt: rt, ld: ld, app: app, f: f.WithDefaults(), runID: runID}}
}

// suiteCheck runs the suite on OLD and NEW and judges the difference.
type suiteCheck struct {
	rt    runtime.Runtime
	ld    launch.Loader
	app   config.App
	f     config.Functional
	runID string
}

func (c *suiteCheck) Name() string { return CheckSuite }

func (c *suiteCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	res := check.Result{Layer: check.L3Functional, Check: CheckSuite}
	if !c.f.Configured() {
		res.Status, res.Message = check.StatusSkipped, "no test suite configured (functional.command)"
		return res, nil
	}
	var data Data
	var err error
	var src source
	if env.Old != nil {
		if data.Old, src, err = c.suite(ctx, env, env.Old, "old"); err != nil {
			return res, fmt.Errorf("OLD: %w", err)
		}
	}
	if data.New, src, err = c.suite(ctx, env, env.New, "new"); err != nil {
		return res, fmt.Errorf("NEW: %w", err)
	}
	data.Delta = testreport.Diff(data.Old, data.New, c.f.Quarantine)
	j := judge(data.Delta, env.Old != nil, c.f.Thresholds)
	res.Status, res.Message, res.Measured, res.Baseline, res.Threshold = j.status, j.message, j.measured, j.baseline, j.threshold
	res.Tables, res.Data = j.tables, data
	res.Source = src.String(data.New.Format)
	return res, nil
}

// TestCases lists every test of the new image's run, with how it changed from the old one,
// so junit.xml shows the suite's own tests one by one. A quarantined failure is shown as
// skipped: it is a known failure the policy accepts.
func (d Data) TestCases() []report.TestCase {
	var out []report.TestCase
	for _, c := range d.Delta.Cases {
		if c.New == nil {
			continue
		}
		outcome := string(c.New.Outcome)
		switch {
		case c.New.Outcome == testreport.Todo:
			outcome = "skipped"
		case c.Change == testreport.Quarantined && c.New.Outcome.Bad():
			outcome = "skipped"
		}
		out = append(out, report.TestCase{Suite: c.New.Suite, Name: c.New.Name, Outcome: outcome,
			Change: string(c.Change), Message: c.New.Message, Duration: c.New.Duration})
	}
	return out
}
