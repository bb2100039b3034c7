// Package structure runs the container-structure-test files a policy names (smoke
// structureTests) as Layer 2 checks: one check per file, each running the file unchanged
// against OLD and NEW and judging every test by the gate's OLD-versus-NEW rule. A test that
// passes on OLD and fails on NEW is a regression (FAIL); one that fails on both is
// pre-existing (WARN); with no OLD (a first deployment), a failure on NEW is a FAIL.
package structure

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/cst"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Data is the machine-readable evidence of one check: every test's result on each image, in
// the file's order (CST's: command, file existence, file content, metadata, license).
type Data struct {
	File string           `json:"file"`
	Old  []cst.TestResult `json:"old,omitempty"`
	New  []cst.TestResult `json:"new"`
}

// New loads every file (relative paths from baseDir) and returns one check per file, named
// "structure:<file name>" (the path as given when two files share a name). A file that cannot
// be read or parsed is an error naming it, every file's problems joined; config problems
// wrap cst.ErrInvalid. rt and ld start the command tests' containers under runID; they may be
// nil when no file has command tests to run (those tests then report an error).
func New(files []string, baseDir string, rt runtime.Runtime, ld cst.Loader, runID string) ([]check.Check, error) {
	base := map[string]int{}
	for _, f := range files {
		base[filepath.Base(f)]++
	}
	var checks []check.Check
	var errs []error
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		cfg, err := cst.Load(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("structure test %s: %w", f, err))
			continue
		}
		name := filepath.Base(f)
		if base[name] > 1 {
			name = filepath.ToSlash(f)
		}
		checks = append(checks, &fileCheck{name: "structure:" + name, file: f, cfg: cfg, rt: rt, ld: ld, runID: runID})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return checks, nil
}

// fileCheck runs one CST file against both images.
type fileCheck struct {
	name, file string
	cfg        *cst.Config
	rt         runtime.Runtime
	ld         cst.Loader
	runID      string
}

func (c *fileCheck) Name() string { return c.name }

// Run implements check.Check.
func (c *fileCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if env == nil || env.New == nil {
		return check.Result{}, errors.New("no NEW image")
	}
	d := Data{File: c.file}
	var err error
	if env.Old != nil {
		if d.Old, err = cst.Run(ctx, c.cfg, env.Old, c.rt, c.ld, c.runID); err != nil {
			return check.Result{}, fmt.Errorf("OLD image: %w", err)
		}
	}
	if d.New, err = cst.Run(ctx, c.cfg, env.New, c.rt, c.ld, c.runID); err != nil {
		return check.Result{}, fmt.Errorf("NEW image: %w", err)
	}
	return judge(d, env.Old != nil), nil
}

// verdict is one test's judgement.
type verdict struct {
	status check.Status
	label  string // "regression", "pre-existing"…
}

// judgeTest applies the OLD-versus-NEW rule to one test. old is nil without an OLD image.
func judgeTest(old *cst.TestResult, nw cst.TestResult) verdict {
	switch nw.Outcome() {
	case "pass":
		return verdict{check.StatusPass, "pass"}
	case "skipped":
		return verdict{check.StatusSkipped, "skipped"}
	case "error":
		if old != nil && old.Errored {
			return verdict{check.StatusWarn, "pre-existing: cannot run on OLD either"}
		}
		return verdict{check.StatusError, "cannot run on NEW"}
	}
	switch {
	case old == nil:
		return verdict{check.StatusFail, "fails"}
	case old.Passed:
		return verdict{check.StatusFail, "regression"}
	case old.Outcome() == "fail":
		return verdict{check.StatusWarn, "pre-existing: fails on OLD too"}
	}
	return verdict{check.StatusFail, "fails (not judged on OLD: " + old.Outcome() + ")"}
}

// judge turns the per-test results into the check's result: the worst test wins, skipped
// tests count only when every test was skipped.
func judge(d Data, haveOld bool) check.Result {
	r := check.Result{
		Layer:     check.L2Smoke,
		Source:    "container-structure-test " + d.File,
		Threshold: "every test passes on NEW; a test passing on OLD must not fail on NEW",
		Data:      d,
	}
	table := check.Table{Title: "structure tests: " + d.File, Columns: []string{"test", "kind", "old", "new", "judgement", "detail"}}
	if !haveOld {
		table.Columns = []string{"test", "kind", "new", "judgement", "detail"}
	}
	var (
		statuses          []check.Status
		groups            = map[string][]string{}
		order             []string
		skipped, ranCount int
	)
	for i, nw := range d.New {
		var old *cst.TestResult
		if haveOld && i < len(d.Old) {
			old = &d.Old[i]
		}
		v := judgeTest(old, nw)
		if v.status == check.StatusSkipped {
			skipped++
		} else {
			ranCount++
			statuses = append(statuses, v.status)
		}
		if v.status != check.StatusPass && v.status != check.StatusSkipped {
			if _, ok := groups[v.label]; !ok {
				order = append(order, v.label)
			}
			groups[v.label] = append(groups[v.label], fmt.Sprintf("%s %q: %s", nw.Kind, nw.Name, detail(old, nw)))
		}
		row := []string{nw.Name, string(nw.Kind)}
		if haveOld {
			oldOutcome := "-"
			if old != nil {
				oldOutcome = old.Outcome()
			}
			row = append(row, oldOutcome)
		}
		table.Rows = append(table.Rows, append(row, nw.Outcome(), v.label, detail(old, nw)))
	}
	r.Tables = []check.Table{table}
	r.Measured = fmt.Sprintf("%d/%d pass on NEW", count(d.New, "pass"), ranCount)
	if haveOld {
		r.Baseline = fmt.Sprintf("%d/%d pass on OLD", count(d.Old, "pass"), len(d.Old)-count(d.Old, "skipped"))
	}
	switch {
	case len(d.New) == 0:
		r.Status, r.Message = check.StatusSkipped, "the file holds no tests"
		return r
	case ranCount == 0:
		r.Status, r.Message = check.StatusSkipped, fmt.Sprintf("all %d tests skipped: %s", skipped, d.New[0].Message)
		return r
	}
	r.Status = check.Worst(statuses...)
	var parts []string
	for _, label := range order {
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(groups[label]), label, strings.Join(groups[label], "; ")))
	}
	summary := fmt.Sprintf("%d of %d tests pass on NEW", count(d.New, "pass"), ranCount)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	if len(parts) > 0 {
		summary += ": " + strings.Join(parts, "; ")
	}
	r.Message = summary
	return r
}

// detail is the message worth showing for a test: NEW's, or OLD's when only OLD has one.
func detail(old *cst.TestResult, nw cst.TestResult) string {
	if nw.Message != "" || old == nil {
		return nw.Message
	}
	return old.Message
}

func count(rs []cst.TestResult, outcome string) int {
	n := 0
	for _, r := range rs {
		if r.Outcome() == outcome {
			n++
		}
	}
	return n
}
