package gate

import (
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// TestLeakCheck: a distro plan whose soak did not judge memory growth — no soak, or one too
// short to tell — says so and is not GO; one whose soak judged it adds nothing.
func TestLeakCheck(t *testing.T) {
	distro, _ := plan.Seed(plan.Distro)
	minor, _ := plan.Seed(plan.Minor)
	pass := func(l check.Layer, name string) check.Result {
		return check.Result{Layer: l, Check: name, Status: check.StatusPass, Message: "fine"}
	}
	soakRan := func(memory check.Status) report.Layer {
		return report.Layer{Layer: check.L6Soak, State: report.StateRan, Status: memory, Results: []check.Result{
			{Layer: check.L6Soak, Check: "memory", Status: memory, Message: "NEW: 3 samples after the 6s warm-up: a trend needs 6"},
			pass(check.L6Soak, "fds")}}
	}
	notRun := report.Layer{Layer: check.L6Soak, State: report.StateExcluded, Status: check.StatusSkipped, Why: "narrowed away by --layers"}
	for _, tc := range []struct {
		name  string
		p     plan.Plan
		l6    report.Layer
		added string // "" when nothing is added
	}{
		{"distro, no soak", distro, notRun, "memory leak check not made: no soak ran: narrowed away by --layers"},
		{"distro, soak too short to judge", distro, soakRan(check.StatusInconclusive), "the soak did not judge memory growth (inconclusive"},
		{"distro, soak judged memory", distro, soakRan(check.StatusPass), ""},
		{"distro, soak found growth", distro, soakRan(check.StatusWarn), ""},
		{"minor plan: no leak check", minor, notRun, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers := []report.Layer{{Layer: check.L2Smoke, State: report.StateRan, Results: []check.Result{pass(check.L2Smoke, "start")}}, tc.l6}
			results := append([]check.Result{}, layers[0].Results...)
			results = append(results, tc.l6.Results...)
			got := applyPromotion(tc.p, layers, results)
			if tc.added == "" {
				if len(got) != len(results) {
					t.Errorf("added %v, want nothing", got[len(results):])
				}
				return
			}
			if len(got) != len(results)+1 {
				t.Fatalf("%d results, want one added", len(got))
			}
			r := got[len(got)-1]
			if r.Layer != check.L6Soak || r.Check != LeakCheckName || r.Status != check.StatusWarn || !strings.Contains(r.Message, tc.added) || r.Threshold == "" {
				t.Errorf("added %+v, want an L6 %s warning saying %q", r, LeakCheckName, tc.added)
			}
			if n := len(layers[1].Results); n == 0 || layers[1].Results[n-1].Check != LeakCheckName {
				t.Errorf("the report's L6 does not show the leak check: %+v", layers[1].Results)
			}
			// With every other check passing, the run is not GO.
			runs := []verdict.LayerRun{{Layer: check.L2Smoke, Ran: true}}
			if v := verdict.Decide(verdict.Policy{Required: []check.Layer{check.L2Smoke}}, runs, got); v.Decision == verdict.Go {
				t.Errorf("verdict %s (%s), want not GO", v.Decision, v.Summary)
			}
		})
	}
}
