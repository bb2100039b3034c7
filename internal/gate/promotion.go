package gate

import (
	"fmt"
	"slices"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/report"
)

// LeakCheckName is the check, in Layer 6, that holds a distro plan's promotion rule "no memory
// leak over the soak" when the soak did not judge memory growth.
const LeakCheckName = "leak-check"

// leakCheck applies a plan's memory leak check (plan.LeakCheck, the distro plan's) to what the
// layers found: when Layer 6's memory check judged the growth (pass, warn or fail) it speaks for
// itself, and nothing is added; otherwise — no soak ran, or it was too short or could not read
// memory — a WARN says the leak check was not made, so the run is not GO. ok is false when
// nothing is added.
func leakCheck(p plan.Plan, layers []report.Layer) (r check.Result, ok bool) {
	if !p.LeakCheck {
		return check.Result{}, false
	}
	r = check.Result{Layer: check.L6Soak, Check: LeakCheckName, Status: check.StatusWarn, Source: "plan " + string(p.Kind),
		Threshold: "memory growth judged over a soak (the " + string(p.Kind) + " promotion rule: no memory leak over the soak)"}
	i := slices.IndexFunc(layers, func(l report.Layer) bool { return l.Layer == check.L6Soak })
	if i < 0 || layers[i].State != report.StateRan {
		why := "no soak ran"
		if i >= 0 && layers[i].Why != "" {
			why += ": " + layers[i].Why
		}
		r.Measured = "not judged"
		r.Message = fmt.Sprintf("memory leak check not made: %s; the %s plan needs memory growth judged over a soak", why, p.Kind)
		return r, true
	}
	for _, res := range layers[i].Results {
		if res.Check != "memory" {
			continue
		}
		switch res.Status {
		case check.StatusPass, check.StatusWarn, check.StatusFail:
			return check.Result{}, false
		}
		r.Measured = "not judged (" + res.Status.String() + ")"
		r.Message = fmt.Sprintf("memory leak check not made: the soak did not judge memory growth (%s: %s); the %s plan needs it judged",
			res.Status, res.Message, p.Kind)
		return r, true
	}
	r.Measured = "not judged"
	r.Message = fmt.Sprintf("memory leak check not made: the soak has no memory result; the %s plan needs memory growth judged", p.Kind)
	return r, true
}

// applyPromotion adds the results of the plan's promotion rules that span layers to the
// report's layers and to results.
func applyPromotion(p plan.Plan, layers []report.Layer, results []check.Result) []check.Result {
	r, ok := leakCheck(p, layers)
	if !ok {
		return results
	}
	for i := range layers {
		if layers[i].Layer == r.Layer {
			layers[i].Results = append(layers[i].Results, r)
			if layers[i].State == report.StateRan {
				layers[i].Status = check.Worst(layers[i].Status, r.Status)
			}
		}
	}
	return append(results, r)
}
