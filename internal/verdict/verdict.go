// Package verdict turns the results of a run into one decision: GO, CAUTION, NO-GO or ERROR,
// with the reasons behind it. Decide is pure: the same plan and results always give the same
// verdict, so it is tested as a table.
package verdict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// Decision is the answer to "may NEW replace OLD?".
type Decision string

// The decisions, each with its own exit code (see cmd/plimsoll).
const (
	Go      Decision = "GO"      // every check that ran passed and the promotion rule holds
	Caution Decision = "CAUTION" // nothing failed, but something is worse or was not verified
	NoGo    Decision = "NO-GO"   // a check found a regression past its no-go threshold
	Error   Decision = "ERROR"   // a check could not tell, so no decision can be made
)

// Reason is one line of evidence behind a decision.
type Reason struct {
	Layer     check.Layer  `json:"layer,omitempty"`
	Check     string       `json:"check,omitempty"`
	Status    check.Status `json:"status"`
	Message   string       `json:"message"`
	Measured  string       `json:"measured,omitempty"`
	Baseline  string       `json:"baseline,omitempty"`
	Threshold string       `json:"threshold,omitempty"`
	Source    string       `json:"source,omitempty"`
}

func (r Reason) String() string {
	var b strings.Builder
	if r.Layer != 0 {
		fmt.Fprintf(&b, "L%d %s", int(r.Layer), r.Check)
		b.WriteString(": ")
	}
	b.WriteString(r.Message)
	var ev []string
	if r.Measured != "" {
		ev = append(ev, "measured "+r.Measured)
	}
	if r.Baseline != "" {
		ev = append(ev, "baseline "+r.Baseline)
	}
	if r.Threshold != "" {
		ev = append(ev, "threshold "+r.Threshold)
	}
	if r.Source != "" {
		ev = append(ev, "source "+r.Source)
	}
	if len(ev) > 0 {
		b.WriteString(" (" + strings.Join(ev, "; ") + ")")
	}
	return b.String()
}

// Verdict is the decision of one run and why.
type Verdict struct {
	Decision Decision `json:"decision"`
	Summary  string   `json:"summary"`
	Reasons  []Reason `json:"reasons"`
}

// LayerRun says whether one planned layer ran, and if not, why.
type LayerRun struct {
	Layer check.Layer
	// Ran is true when the layer's checks were run (whatever their results).
	Ran bool
	// Excluded is true when the user narrowed the layer away (--layers): the user chose not
	// to verify it, so its absence does not count against the promotion rule.
	Excluded bool
	// Why says why the layer did not run.
	Why string
}

// Policy is what Decide needs from the plan.
type Policy struct {
	// SameDigest short-cuts the decision: an image is always fit to replace itself.
	SameDigest bool
	// Required are the layers the plan's promotion rule needs to pass.
	Required []check.Layer
	// Promotion is the rule in words, quoted when it is not met.
	Promotion string
	// Warnings are what the plan itself found that keeps the run from GO whatever the checks
	// say (a downgrade of the distribution, the C library or OpenSSL). Each becomes a reason
	// with status warn, and holds the decision at CAUTION at best.
	Warnings []Reason
}

// Decide returns the verdict for results of the layers in runs.
//
// The worst result decides: any fail is NO-GO; otherwise any error, or an inconclusive result
// in a layer the promotion rule requires, is ERROR; otherwise any warning (or an inconclusive
// result elsewhere) is CAUTION. A layer the promotion rule requires that did not run
// (and was not excluded by the user) makes the verdict at least CAUTION: a layer that was not
// run is never counted as passed. So does a warning of the plan (Policy.Warnings), unless no
// layer ran.
func Decide(p Policy, runs []LayerRun, results []check.Result) Verdict {
	if p.SameDigest {
		return Verdict{Decision: Go, Summary: "same digest: the new image is the old image, already verified",
			Reasons: []Reason{}}
	}
	worst := check.StatusPass
	reasons := []Reason{}
	for _, r := range results {
		status := r.Status
		if status == check.StatusInconclusive && !slices.Contains(p.Required, r.Layer) {
			// Too noisy to tell, in a layer the promotion rule does not need: not verified, so
			// CAUTION — the run can still be decided.
			status = check.StatusWarn
		}
		worst = check.Worst(worst, status)
		if r.Status == check.StatusPass || r.Status == check.StatusSkipped {
			continue
		}
		reasons = append(reasons, Reason{Layer: r.Layer, Check: r.Check, Status: r.Status, Message: r.Message,
			Measured: r.Measured, Baseline: r.Baseline, Threshold: r.Threshold, Source: r.Source})
	}
	var planned []string
	for _, w := range p.Warnings {
		w.Status = check.StatusWarn
		reasons = append(reasons, w)
		planned = append(planned, w.Message)
	}
	// Worst first, then in layer order, so the first reason is the one that decided.
	slices.SortStableFunc(reasons, func(a, b Reason) int {
		if a.Status != b.Status {
			return int(b.Status) - int(a.Status)
		}
		return int(a.Layer) - int(b.Layer)
	})
	var unverified []string
	for _, lr := range runs {
		if lr.Ran || lr.Excluded || !slices.Contains(p.Required, lr.Layer) {
			continue
		}
		unverified = append(unverified, lr.Layer.String())
		reasons = append(reasons, Reason{Layer: lr.Layer, Status: check.StatusSkipped,
			Message: fmt.Sprintf("required by the promotion rule but not verified: %s", lr.Why)})
	}
	ran := 0
	for _, lr := range runs {
		if lr.Ran {
			ran++
		}
	}
	v := Verdict{Reasons: reasons}
	switch {
	case worst == check.StatusFail:
		v.Decision, v.Summary = NoGo, count(results, check.StatusFail)+" failed"
	case worst == check.StatusError || worst == check.StatusInconclusive:
		v.Decision, v.Summary = Error, "could not decide: "+count(results, check.StatusError, check.StatusInconclusive)+" could not be measured"
	case worst == check.StatusWarn:
		v.Decision, v.Summary = Caution, count(results, check.StatusWarn, check.StatusInconclusive)+" warned or could not tell"
	case ran == 0:
		v.Decision, v.Summary = Error, "could not decide: no layer ran"
	case len(unverified) > 0:
		v.Decision, v.Summary = Caution, "promotion rule not met ("+p.Promotion+"): not verified: "+strings.Join(unverified, ", ")
	case len(planned) > 0:
		v.Decision, v.Summary = Caution, fmt.Sprintf("all %d checks passed, but %s", len(results), strings.Join(planned, "; "))
		planned = nil // said
	default:
		v.Decision, v.Summary = Go, fmt.Sprintf("all %d checks passed", len(results))
	}
	if worst > check.StatusSkipped && len(unverified) > 0 {
		// A result decided; the layers the rule needs that verified nothing are worth saying too.
		v.Summary += "; not verified: " + strings.Join(unverified, ", ")
	}
	if len(planned) > 0 {
		// Another result decided; what the plan found is worth saying too.
		v.Summary += "; " + strings.Join(planned, "; ")
	}
	return v
}

// count says how many results have one of the statuses, as "N check(s)".
func count(results []check.Result, ss ...check.Status) string {
	n := 0
	for _, r := range results {
		if slices.Contains(ss, r.Status) {
			n++
		}
	}
	if n == 1 {
		return "1 check"
	}
	return fmt.Sprintf("%d checks", n)
}
