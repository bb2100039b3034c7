package imagediff

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// vulnCheck compares the vulnerability findings of the two images. The seed rule, with
// "critical/high" meaning "at or above the policy's failOn severity":
//   - more such findings in NEW than in OLD → NO-GO (CAUTION for a major or distro upgrade
//     when the policy allows new findings there);
//   - new such findings, but no more of them than were fixed → CAUTION;
//   - more findings in total (all below failOn) → CAUTION;
//   - fewer or equal, none new at failOn → GO.
//
// A hotfix plan's CVEs must be gone from NEW, else NO-GO. Without a database or an imported
// report the matcher's error makes the check an error: it never passes unmeasured.
type vulnCheck struct {
	cfg Config
	inv *inventories
}

func (*vulnCheck) Name() string { return "vulnerabilities" }

func (c *vulnCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	failOn, err := scan.ParseSeverity(c.cfg.Vulns.FailOn)
	if err != nil {
		return check.Result{}, fmt.Errorf("policy vulnerabilities.failOn: %w", err)
	}
	newF, err := c.findings(ctx, env, c.cfg.New, env.New)
	if err != nil {
		return check.Result{}, err
	}
	var oldF []scan.Finding
	if env.Old != nil {
		if oldF, err = c.findings(ctx, env, c.cfg.Old, env.Old); err != nil {
			return check.Result{}, err
		}
	}
	oldF, ignoredOld := c.withoutIgnored(oldF)
	newF, ignoredNew := c.withoutIgnored(newF)
	stop := env.Timings.Start(timing.Diff)
	d := scan.DiffFindings(oldF, newF)
	stop()

	introduced, fixed := atLeast(d.Introduced, failOn), atLeast(d.Fixed, failOn)
	r := check.Result{
		Status:    check.StatusPass,
		Measured:  "new: " + counts(newF),
		Baseline:  "old: " + counts(oldF),
		Threshold: fmt.Sprintf("no new findings at or above %s; no more findings in total", failOn),
		Source:    c.cfg.Source,
		Data:      map[string]any{"delta": d, "ignored": append(append([]string{}, ignoredOld...), ignoredNew...)},
	}
	// Every message of the rule states the counts the rule compared: new against fixed at or
	// above failOn, and how many there were before and after.
	compared := fmt.Sprintf("%d new at or above %s, %d fixed (%d → %d at or above %s): new %s",
		len(introduced), failOn, len(fixed), len(atLeast(oldF, failOn)), len(atLeast(newF, failOn)), failOn, ids(introduced))
	if len(fixed) > 0 {
		compared += "; fixed " + ids(fixed)
	}
	var msg []string
	switch {
	case len(introduced) > len(fixed) && c.cfg.Major && c.cfg.Vulns.AllowNewOnMajor:
		r.Status = check.StatusWarn
		msg = append(msg, compared+"; allowed for a major upgrade by policy")
	case len(introduced) > 0:
		// More new than fixed fails; new ones that replace as many fixed are a warning.
		r.Status = check.StatusWarn
		if len(introduced) > len(fixed) {
			r.Status = check.StatusFail
		}
		msg = append(msg, compared)
	case len(newF) > len(oldF):
		r.Status = check.StatusWarn
		msg = append(msg, fmt.Sprintf("%d more findings below %s (%d → %d in all): %s", len(newF)-len(oldF), failOn, len(oldF), len(newF), ids(d.Introduced)))
	default:
		msg = append(msg, fmt.Sprintf("%d fixed, %d introduced, %d persisting", len(d.Fixed), len(d.Introduced), len(d.Persisting)))
	}
	for _, cve := range c.cfg.HotfixCVEs {
		if f, ok := find(newF, cve); ok {
			r.Status = check.StatusFail
			msg = append([]string{fmt.Sprintf("hotfix %s still present in %s %s (fixed in %s)", cve, f.Package, f.Version, orNone(f.FixedIn))}, msg...)
		} else if _, was := find(oldF, cve); was {
			msg = append(msg, "hotfix "+cve+" fixed")
		} else {
			msg = append(msg, "hotfix "+cve+" not found in either image")
		}
	}
	if n := len(ignoredOld) + len(ignoredNew); n > 0 {
		msg = append(msg, fmt.Sprintf("%d findings ignored by policy", n))
	}
	r.Message = strings.Join(msg, "; ")
	for _, t := range []struct {
		title string
		fs    []scan.Finding
	}{{"Introduced vulnerabilities", d.Introduced}, {"Fixed vulnerabilities", d.Fixed}} {
		if len(t.fs) > 0 {
			r.Tables = append(r.Tables, findingTable(t.title, t.fs))
		}
	}
	return r, nil
}

func (c *vulnCheck) findings(ctx context.Context, env *check.Env, m Matcher, img *image.Image) ([]scan.Finding, error) {
	inv, err := c.inv.get(ctx, env, img)
	if err != nil {
		return nil, err
	}
	stop := env.Timings.Start(timing.Match)
	fs, err := m.Findings(ctx, inv)
	stop()
	if err != nil {
		return nil, fmt.Errorf("find vulnerabilities of %s: %w", img.Ref, err)
	}
	return fs, nil
}

// withoutIgnored splits off the findings the policy accepts.
func (c *vulnCheck) withoutIgnored(fs []scan.Finding) (kept []scan.Finding, ignored []string) {
	for _, f := range fs {
		if slices.ContainsFunc(c.cfg.Vulns.Ignore, f.Is) {
			ignored = append(ignored, f.ID+" in "+f.Package)
			continue
		}
		kept = append(kept, f)
	}
	return kept, ignored
}

func atLeast(fs []scan.Finding, s scan.Severity) []scan.Finding {
	var out []scan.Finding
	for _, f := range fs {
		if f.Severity >= s {
			out = append(out, f)
		}
	}
	return out
}

// counts says how many findings there are of each severity, worst first.
func counts(fs []scan.Finding) string {
	n := map[scan.Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	var parts []string
	for s := scan.Critical; s >= scan.Unknown; s-- {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func ids(fs []scan.Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.ID+" ("+f.Severity.String()+", "+f.Package+")")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func find(fs []scan.Finding, id string) (scan.Finding, bool) {
	for _, f := range fs {
		if f.Is(id) {
			return f, true
		}
	}
	return scan.Finding{}, false
}

func orNone(s string) string {
	if s == "" {
		return "no fixed version yet"
	}
	return s
}

func findingTable(title string, fs []scan.Finding) check.Table {
	t := check.Table{Title: title, Columns: []string{"id", "severity", "package", "version", "fixed in"}}
	for _, f := range fs {
		t.Rows = append(t.Rows, []string{f.ID, f.Severity.String(), f.Package, f.Version, f.FixedIn})
	}
	return t
}
