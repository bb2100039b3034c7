package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // maintenance windows name IANA time zones; do not depend on the host's

	"github.com/plimsoll/plimsoll/internal/check"
)

// Patches is the patch policy: which base-image patches `plimsoll patches` offers, which of
// them --apply takes, when, with whose approval, and what the check must prove first.
type Patches struct {
	// Line is how far a newer tag may stray from the one in use: "patch" (the default: the
	// same major and minor version) or "minor" (the same major version).
	Line string `yaml:"line"`
	// Eligible says which patches --apply takes.
	Eligible PatchEligibility `yaml:"eligible"`
	// Windows are the maintenance windows in which --apply may rewrite references; none means
	// at any time.
	Windows []Window `yaml:"windows"`
	// Approvals are what --apply needs before it rewrites anything; none by default.
	Approvals Approvals `yaml:"approvals"`
	// Layers are the layers the check must run and pass, by number or name; left out, the
	// plan's layers and promotion rule decide.
	Layers []string `yaml:"layers"`
	// Timeout bounds each registry request ("30s" when left out): a registry that stalls is an
	// error, never a hang.
	Timeout time.Duration `yaml:"timeout"`
	// RegressionWindow is how long after a patch was applied a rollback of its image counts
	// as a regression of the patch ("168h", a week, when left out).
	RegressionWindow time.Duration `yaml:"regressionWindow"`
	// Owners say who owns which paths of the repository, after the rules of its CODEOWNERS
	// file (so these win); `plimsoll ledger` reports open patches and SLA breaches by owner.
	Owners []OwnerRule `yaml:"owners"`
	// SLA is how long a patch may stay open, by the highest severity it fixes (critical,
	// high, medium, low); a severity left out keeps DefaultSLA's.
	SLA map[string]time.Duration `yaml:"sla"`
}

// OwnerRule gives the paths Path matches (CODEOWNERS syntax, relative to the repository root)
// to Owners (@user, @org/team or an e-mail address).
type OwnerRule struct {
	Path   string   `yaml:"path"`
	Owners []string `yaml:"owners"`
}

// DefaultSLA is how long a patch may stay open by the highest severity it fixes: critical 1
// day, high 7 days, medium 30 days, low 90 days; negligible and unknown have no deadline.
var DefaultSLA = map[string]time.Duration{"critical": 24 * time.Hour, "high": 7 * 24 * time.Hour,
	"medium": 30 * 24 * time.Hour, "low": 90 * 24 * time.Hour}

// Deadlines returns the SLA by severity name: DefaultSLA with the policy's own over it.
func (p Patches) Deadlines() map[string]time.Duration {
	out := maps.Clone(DefaultSLA)
	maps.Copy(out, p.SLA)
	return out
}

// PatchEligibility says which patches --apply takes: those that fix a vulnerability of at
// least Fixes, and, when OlderThanDays is set, any patch available for that many days.
type PatchEligibility struct {
	// Fixes is the lowest severity a patch must fix to be taken at once: "high" when left out,
	// or negligible, low, medium, critical; "none" takes no patch for what it fixes.
	Fixes string `yaml:"fixes"`
	// OlderThanDays makes any patch eligible once it has been available this many days; 0
	// (the default) never.
	OlderThanDays int `yaml:"olderThanDays"`
}

// Window is a weekly maintenance window.
type Window struct {
	// Days are the weekdays it opens on: mon, tue, wed, thu, fri, sat, sun; none is every day.
	Days []string `yaml:"days"`
	// Start and End are clock times, "HH:MM", in Timezone. An End before Start closes the
	// window the next day; equal times are the whole day.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Timezone is an IANA time zone ("Europe/Berlin"); UTC when left out.
	Timezone string `yaml:"timezone"`
}

// Approvals are the approvals --apply needs.
type Approvals struct {
	// From are people each of whom must approve.
	From []string `yaml:"from"`
	// Count is how many people, at least, must approve.
	Count int `yaml:"count"`
	// File is an approval file: one approver's name per line, # comments; relative to the
	// policy file. --approved-by adds to it.
	File string `yaml:"file"`
}

// Default values of the patch policy.
const (
	DefaultPatchTimeout     = 30 * time.Second
	DefaultRegressionWindow = 7 * 24 * time.Hour
)

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (p Patches) problems(path string) []*Problem {
	var ps []*Problem
	if p.Line != "" && p.Line != "patch" && p.Line != "minor" {
		ps = append(ps, &Problem{Path: path + ".line", Msg: fmt.Sprintf("%q: use patch or minor", p.Line)})
	}
	if f := p.Eligible.Fixes; f != "" && f != "none" && !slices.Contains(Severities, f) {
		ps = append(ps, &Problem{Path: path + ".eligible.fixes", Msg: fmt.Sprintf("unknown severity %q: use none, %s", f, strings.Join(Severities, ", "))})
	}
	if p.Eligible.OlderThanDays < 0 {
		ps = append(ps, &Problem{Path: path + ".eligible.olderThanDays", Msg: fmt.Sprintf("%d is negative", p.Eligible.OlderThanDays)})
	}
	for i, w := range p.Windows {
		ps = append(ps, w.problems(fmt.Sprintf("%s.windows[%d]", path, i))...)
	}
	ps = append(ps, names(p.Approvals.From, path+".approvals.from", "name")...)
	if p.Approvals.Count < 0 {
		ps = append(ps, &Problem{Path: path + ".approvals.count", Msg: fmt.Sprintf("%d is negative", p.Approvals.Count)})
	}
	if p.Layers != nil {
		_, lps := parseLayers(p.Layers, path+".layers")
		ps = append(ps, lps...)
	}
	if p.Timeout < 0 {
		ps = append(ps, &Problem{Path: path + ".timeout", Msg: fmt.Sprintf("%s is negative", p.Timeout)})
	}
	if p.RegressionWindow < 0 {
		ps = append(ps, &Problem{Path: path + ".regressionWindow", Msg: fmt.Sprintf("%s is negative", p.RegressionWindow)})
	}
	for i, o := range p.Owners {
		if strings.TrimSpace(o.Path) == "" {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s.owners[%d].path", path, i), Msg: "empty"})
		}
	}
	for _, sev := range slices.Sorted(maps.Keys(p.SLA)) {
		switch d := p.SLA[sev]; {
		case !slices.Contains(Severities, sev) || sev == "negligible":
			ps = append(ps, &Problem{Path: path + ".sla." + sev, Msg: "unknown severity: use critical, high, medium or low"})
		case d <= 0:
			ps = append(ps, &Problem{Path: path + ".sla." + sev, Msg: fmt.Sprintf("%s is not positive", d)})
		}
	}
	return ps
}

func (w Window) problems(path string) []*Problem {
	var ps []*Problem
	for i, d := range w.Days {
		if !slices.Contains(weekdays, strings.ToLower(d)) {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s.days[%d]", path, i), Msg: fmt.Sprintf("%q: use mon, tue, wed, thu, fri, sat or sun", d)})
		}
	}
	for _, c := range []struct{ key, v string }{{"start", w.Start}, {"end", w.End}} {
		if _, err := ParseClock(c.v); err != nil {
			ps = append(ps, &Problem{Path: path + "." + c.key, Msg: err.Error()})
		}
	}
	if w.Timezone != "" {
		if _, err := time.LoadLocation(w.Timezone); err != nil {
			ps = append(ps, &Problem{Path: path + ".timezone", Msg: fmt.Sprintf("%q: not an IANA time zone (Europe/Berlin, UTC)", w.Timezone)})
		}
	}
	return ps
}

// ParseClock reads a clock time "HH:MM" (00:00 to 23:59, 24:00 for the end of the day) as the
// time since midnight.
func ParseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q: want a clock time HH:MM (02:00, 23:30)", s)
	}
	hh, err1 := strconv.ParseUint(h, 10, 8)
	mm, err2 := strconv.ParseUint(m, 10, 8)
	if err1 != nil || err2 != nil || hh > 24 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q: want a clock time HH:MM (02:00, 23:30)", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// Contains reports whether t falls inside the window. The window must be valid.
func (w Window) Contains(t time.Time) bool {
	loc := time.UTC
	if w.Timezone != "" {
		if l, err := time.LoadLocation(w.Timezone); err == nil {
			loc = l
		}
	}
	start, _ := ParseClock(w.Start)
	end, _ := ParseClock(w.End)
	local := t.In(loc)
	y, mo, d := local.Date()
	midnight := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	// The window may have opened today or, crossing midnight, yesterday.
	for _, day := range []time.Time{midnight, midnight.AddDate(0, 0, -1)} {
		if len(w.Days) > 0 && !slices.ContainsFunc(w.Days, func(s string) bool {
			return strings.EqualFold(s, weekdays[day.Weekday()])
		}) {
			continue
		}
		length := end - start
		if length <= 0 {
			length += 24 * time.Hour
		}
		open := day.Add(start)
		if !local.Before(open) && local.Before(open.Add(length)) {
			return true
		}
	}
	return false
}

// String writes the window as people read it: "mon,fri 02:00-04:00 Europe/Berlin".
func (w Window) String() string {
	days := "daily"
	if len(w.Days) > 0 {
		days = strings.ToLower(strings.Join(w.Days, ","))
	}
	tz := w.Timezone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s %s-%s %s", days, w.Start, w.End, tz)
}

// InWindow reports whether t falls inside a maintenance window (always, when there are none)
// and, when it does not, the windows in words.
func (p Patches) InWindow(t time.Time) (bool, string) {
	if len(p.Windows) == 0 {
		return true, ""
	}
	var ws []string
	for _, w := range p.Windows {
		if w.Contains(t) {
			return true, ""
		}
		ws = append(ws, w.String())
	}
	return false, strings.Join(ws, "; ")
}

// MissingApprovals says what the approvals of approvers lack, "" when they suffice.
func (a Approvals) MissingApprovals(approvers []string) string {
	have := map[string]bool{}
	for _, n := range approvers {
		if n = strings.TrimSpace(n); n != "" {
			have[n] = true
		}
	}
	var missing []string
	for _, n := range a.From {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	var why []string
	if len(missing) > 0 {
		why = append(why, "needs the approval of "+strings.Join(missing, ", "))
	}
	if len(have) < a.Count {
		why = append(why, fmt.Sprintf("needs %d approvals, has %d", a.Count, len(have)))
	}
	return strings.Join(why, "; ")
}

// LineKind is the widest upgrade kind a candidate tag may be: "patch" or "minor".
func (p Patches) LineKind() string {
	if p.Line == "" {
		return "patch"
	}
	return p.Line
}

// FixesSeverity is the lowest severity a patch must fix to be eligible at once, "none" for
// no severity.
func (p Patches) FixesSeverity() string {
	if p.Eligible.Fixes == "" {
		return "high"
	}
	return p.Eligible.Fixes
}

// RequestTimeout is the bound of each registry request.
func (p Patches) RequestTimeout() time.Duration {
	if p.Timeout == 0 {
		return DefaultPatchTimeout
	}
	return p.Timeout
}

// Regression is how long after a patch a rollback counts against it.
func (p Patches) Regression() time.Duration {
	if p.RegressionWindow == 0 {
		return DefaultRegressionWindow
	}
	return p.RegressionWindow
}

// MustPass returns the layers the check must run and pass; nil leaves it to the plan. The
// section must be valid.
func (p Patches) MustPass() []check.Layer {
	if p.Layers == nil {
		return nil
	}
	ls, _ := parseLayers(p.Layers, "")
	return ls
}
