// Package ledger turns the patch ledger (store.PatchEvent) and the delivery incidents
// (store.Incident) into the figures of patch governance: mean time to patch, time to
// remediation by severity, adoption of the newest patch across the inventory, the regression
// rate after patches and a changelog of decisions and exceptions. Compute is pure: the
// caller reads the store and the inventory and passes the clock.
package ledger

import (
	"cmp"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Input is what Compute reads.
type Input struct {
	// Events are the patch events, all of them: a patch applied in the period may have been
	// seen before it.
	Events []store.PatchEvent
	// Incidents are the delivery incidents from Since on.
	Incidents []store.Incident
	// Refs are the references in use across the inventory; nil leaves adoption out.
	Refs []inventory.Ref
	// Since starts the period reported on (zero: all time); Now ends it.
	Since, Now time.Time
	// RegressionWindow is how long after a patch a rollback of its image counts against it.
	RegressionWindow time.Duration
	// SLA is how long a patch may stay open by the highest severity it fixes; with Refs, the
	// patches the references still wait for are reported by owner (nil: not reported).
	// Owner returns the owners of a file of Refs; nil or none is NoOwner.
	SLA   map[scan.Severity]time.Duration
	Owner func(file string) []string
}

// Report is the ledger's figures for a period.
type Report struct {
	Since time.Time `json:"since,omitzero"`
	Now   time.Time `json:"now"`
	// Applied counts the patches applied in the period; Timed those of them whose first
	// sighting is in the ledger, which MeanTimeToPatch (first seen → applied) averages.
	Applied         int             `json:"applied"`
	Timed           int             `json:"timed"`
	MeanTimeToPatch report.Duration `json:"meanTimeToPatch"`
	// BySeverity is the time to remediation by the highest severity each patch fixed, worst
	// first.
	BySeverity []Remediation `json:"bySeverity"`
	// Adoption is, per image with an applied patch, how many references in use are on its
	// newest patch; empty without an inventory.
	Adoption []Adoption `json:"adoption"`
	// Regressions are the applied patches of the period followed by a rollback of their
	// image within the regression window; RegressionRate is their share of Applied.
	Regressions      []Regression    `json:"regressions"`
	RegressionRate   float64         `json:"regressionRate"`
	RegressionWindow report.Duration `json:"regressionWindow"`
	// Changelog are the decisions (checked, applied, rolled back) and exceptions of the
	// period, oldest first.
	Changelog []store.PatchEvent `json:"changelog"`
	// Open are the patches the references in use wait for, latest past their SLA first, and
	// ByOwner their counts per owner and severity; both absent unless an SLA and the
	// inventory were given.
	Open    []OpenPatch `json:"open,omitempty"`
	ByOwner []OwnerLoad `json:"byOwner,omitempty"`
	slas    bool
}

// Remediation is the time to remediation of the patches that fixed one severity.
type Remediation struct {
	Severity scan.Severity   `json:"severity"`
	Patches  int             `json:"patches"`
	Mean     report.Duration `json:"mean"`
	Max      report.Duration `json:"max"`
}

// Adoption is how far the newest patch of one image has spread.
type Adoption struct {
	Image string `json:"image"`
	// Newest is the newest patch applied ("repo:tag"), NewestDigest its digest.
	Newest       string `json:"newest"`
	NewestDigest string `json:"newestDigest"`
	// OnNewest of Total references use it (pinned to its digest, or floating on its tag).
	OnNewest int `json:"onNewest"`
	Total    int `json:"total"`
}

// Regression is an applied patch followed by a rollback of its image.
type Regression struct {
	Image    string          `json:"image"`
	ToRef    string          `json:"toRef"`
	Applied  time.Time       `json:"applied"`
	Incident string          `json:"incident"`
	After    report.Duration `json:"after"`
	Reason   string          `json:"reason"`
}

func inPeriod(t time.Time, in Input) bool {
	return !t.Before(in.Since) && !t.After(in.Now)
}

// key names one patch: its image and digest, or its reference when no digest is known.
func key(e store.PatchEvent) [2]string {
	if e.ToDigest != "" {
		return [2]string{e.Image, e.ToDigest}
	}
	return [2]string{e.Image, e.ToRef}
}

// Compute computes the report of in.
func Compute(in Input) Report {
	r := Report{Since: in.Since, Now: in.Now, RegressionWindow: report.Duration(in.RegressionWindow),
		BySeverity: []Remediation{}, Adoption: []Adoption{}, Regressions: []Regression{}, Changelog: []store.PatchEvent{}}
	events := slices.Clone(in.Events)
	slices.SortStableFunc(events, func(a, b store.PatchEvent) int { return a.Time.Compare(b.Time) })

	firstSeen := map[[2]string]time.Time{}
	for _, e := range events {
		if _, ok := firstSeen[key(e)]; !ok && e.Kind == store.PatchSeen {
			firstSeen[key(e)] = e.Time
		}
	}
	var total time.Duration
	bySev := map[scan.Severity]*Remediation{}
	sums := map[scan.Severity]time.Duration{}
	for _, e := range events {
		if e.Kind != store.PatchApplied || !inPeriod(e.Time, in) {
			continue
		}
		r.Applied++
		if seen, ok := firstSeen[key(e)]; ok && !seen.After(e.Time) {
			d := e.Time.Sub(seen)
			r.Timed++
			total += d
			rm := bySev[e.Severity]
			if rm == nil {
				rm = &Remediation{Severity: e.Severity}
				bySev[e.Severity] = rm
			}
			rm.Patches++
			sums[e.Severity] += d
			rm.Max = max(rm.Max, report.Duration(d))
		}
		r.Regressions = append(r.Regressions, regressions(e, in)...)
	}
	if r.Timed > 0 {
		r.MeanTimeToPatch = report.Duration(total / time.Duration(r.Timed))
	}
	for sev, rm := range bySev {
		rm.Mean = report.Duration(sums[sev] / time.Duration(rm.Patches))
		r.BySeverity = append(r.BySeverity, *rm)
	}
	slices.SortFunc(r.BySeverity, func(a, b Remediation) int { return cmp.Compare(b.Severity, a.Severity) })
	if r.Applied > 0 {
		regressed := map[string]bool{}
		for _, g := range r.Regressions {
			regressed[g.Image+" "+g.ToRef+" "+g.Applied.String()] = true
		}
		r.RegressionRate = float64(len(regressed)) / float64(r.Applied)
	}
	r.Adoption = adoption(events, in)
	if in.SLA != nil && in.Refs != nil {
		r.Open, r.ByOwner = open(events, in)
		r.slas = true
	}
	for _, e := range events {
		switch e.Kind {
		case store.PatchChecked, store.PatchProposed, store.PatchApplied, store.PatchRolledBack, store.PatchException:
			if inPeriod(e.Time, in) {
				r.Changelog = append(r.Changelog, e)
			}
		}
	}
	return r
}

// regressions returns the rollbacks of applied patch e's image within the window after it.
func regressions(e store.PatchEvent, in Input) []Regression {
	var out []Regression
	for _, inc := range in.Incidents {
		if inc.Kind != store.IncidentRollback || store.Repository(inc.FromImage) != e.Image {
			continue
		}
		after := inc.StartedAt.Sub(e.Time)
		if after < 0 || after > in.RegressionWindow {
			continue
		}
		out = append(out, Regression{Image: e.Image, ToRef: e.ToRef, Applied: e.Time, Incident: inc.ID,
			After: report.Duration(after), Reason: inc.Reason})
	}
	slices.SortFunc(out, func(a, b Regression) int { return cmp.Compare(a.After, b.After) })
	return out
}

// adoption counts, for each image with an applied patch, the references on its newest one.
func adoption(events []store.PatchEvent, in Input) []Adoption {
	if in.Refs == nil {
		return []Adoption{}
	}
	newest := map[string]store.PatchEvent{}
	for _, e := range events { // oldest first: the last applied wins
		if e.Kind == store.PatchApplied && !e.Time.After(in.Now) {
			newest[e.Image] = e
		}
	}
	out := []Adoption{}
	for img, e := range newest {
		a := Adoption{Image: img, Newest: e.ToRef, NewestDigest: e.ToDigest}
		tag := e.ToRef[len(store.Repository(e.ToRef)):]
		for _, r := range in.Refs {
			if r.Local || r.Name != img {
				continue
			}
			a.Total++
			switch {
			case r.Digest != "" && r.Digest == e.ToDigest:
				a.OnNewest++
			case r.Digest == "" && tag != "" && ":"+r.Tag == tag:
				a.OnNewest++
			}
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Adoption) int { return cmp.Compare(a.Image, b.Image) })
	return out
}

// Decisions counts the decisions of the changelog's checks, for a summary line.
func (r Report) Decisions() map[verdict.Decision]int {
	out := map[verdict.Decision]int{}
	for _, e := range r.Changelog {
		if e.Kind == store.PatchChecked {
			out[e.Decision]++
		}
	}
	return out
}
