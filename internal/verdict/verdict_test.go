package verdict

import (
	"slices"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/check"
)

func res(l check.Layer, name string, s check.Status) check.Result {
	return check.Result{Layer: l, Check: name, Status: s, Message: name + " " + s.String()}
}

func TestDecide(t *testing.T) {
	patch := Policy{Required: []check.Layer{check.L2Smoke, check.L5Harden}, Promotion: "L2 + L5 pass, no new critical/high vulns"}
	allRan := []LayerRun{{Layer: 1, Ran: true}, {Layer: 2, Ran: true}, {Layer: 5, Ran: true}}
	downgrade := patch
	downgrade.Warnings = []Reason{{Check: "downgrade", Message: "the new image downgrades musl 1.2.5-r0→1.2.4-r4",
		Measured: "1.2.4-r4", Baseline: "1.2.5-r0", Threshold: "no downgrade", Source: "C library package"}}
	tests := []struct {
		name     string
		p        Policy
		runs     []LayerRun
		results  []check.Result
		want     Decision
		first    string // the first reason's check
		nReasons int
	}{
		{"same digest short-cuts everything", Policy{SameDigest: true}, nil,
			[]check.Result{res(1, "x", check.StatusFail)}, Go, "", 0},
		{"all pass", patch, allRan,
			[]check.Result{res(1, "packages", check.StatusPass), res(2, "health", check.StatusPass), res(5, "user", check.StatusPass)}, Go, "", 0},
		{"a warning is caution", patch, allRan,
			[]check.Result{res(1, "packages", check.StatusWarn), res(2, "health", check.StatusPass)}, Caution, "packages", 1},
		{"fail beats error and warn", patch, allRan,
			[]check.Result{res(1, "packages", check.StatusWarn), res(1, "vulnerabilities", check.StatusError), res(5, "user", check.StatusFail)}, NoGo, "user", 3},
		{"error without fail cannot decide", patch, allRan,
			[]check.Result{res(1, "packages", check.StatusPass), res(1, "vulnerabilities", check.StatusError)}, Error, "vulnerabilities", 1},
		{"inconclusive in a required layer cannot decide", patch, allRan,
			[]check.Result{res(5, "p95", check.StatusInconclusive)}, Error, "p95", 1},
		{"inconclusive in a layer the rule does not need is CAUTION", patch, allRan,
			[]check.Result{res(4, "p95", check.StatusInconclusive), res(2, "health", check.StatusPass)}, Caution, "p95", 1},
		{"required layer not run is caution, never a pass", patch,
			[]LayerRun{{Layer: 1, Ran: true}, {Layer: 2, Why: "not available in this build"}, {Layer: 5, Ran: true}},
			[]check.Result{res(1, "packages", check.StatusPass)}, Caution, "", 1},
		{"required layer excluded by the user is the user's call", patch,
			[]LayerRun{{Layer: 1, Ran: true}, {Layer: 2, Excluded: true}, {Layer: 5, Excluded: true}},
			[]check.Result{res(1, "packages", check.StatusPass)}, Go, "", 0},
		{"an unrequired layer not run does not matter", patch,
			[]LayerRun{{Layer: 1, Ran: true}, {Layer: 2, Ran: true}, {Layer: 4, Why: "not built"}, {Layer: 5, Ran: true}},
			[]check.Result{res(1, "packages", check.StatusPass)}, Go, "", 0},
		{"nothing ran", patch, []LayerRun{{Layer: 1, Excluded: true}}, nil, Error, "", 0},
		{"a failure with a required layer not verified says both, once", patch,
			[]LayerRun{{Layer: 1, Ran: true}, {Layer: 2, Why: "every check was skipped: no suite"}, {Layer: 5, Ran: true}},
			[]check.Result{res(1, "packages", check.StatusFail), res(2, "suite", check.StatusSkipped)}, NoGo, "packages", 2},
		{"a downgrade the plan found holds every passing check at CAUTION", downgrade, allRan,
			[]check.Result{res(1, "packages", check.StatusPass), res(2, "health", check.StatusPass)}, Caution, "downgrade", 1},
		{"a downgrade beside a warning is one more reason", downgrade, allRan,
			[]check.Result{res(2, "health", check.StatusWarn)}, Caution, "downgrade", 2},
		{"a failure still decides beside a downgrade", downgrade, allRan,
			[]check.Result{res(5, "user", check.StatusFail)}, NoGo, "user", 2},
		{"a downgrade with no layer run cannot decide", downgrade, []LayerRun{{Layer: 1, Excluded: true}}, nil, Error, "downgrade", 1},
		{"skipped results are not reasons", patch, allRan,
			[]check.Result{res(1, "packages", check.StatusPass), res(1, "vulnerabilities", check.StatusSkipped)}, Go, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(tt.p, tt.runs, tt.results)
			if v.Decision != tt.want {
				t.Fatalf("decision = %s (%s), want %s", v.Decision, v.Summary, tt.want)
			}
			if len(v.Reasons) != tt.nReasons {
				t.Fatalf("reasons = %d %v, want %d", len(v.Reasons), v.Reasons, tt.nReasons)
			}
			if tt.first != "" && v.Reasons[0].Check != tt.first {
				t.Errorf("first reason = %q, want %q", v.Reasons[0].Check, tt.first)
			}
			if v.Summary == "" {
				t.Error("empty summary")
			}
			for _, w := range tt.p.Warnings {
				if !strings.Contains(v.Summary, w.Message) {
					t.Errorf("summary %q does not say %q", v.Summary, w.Message)
				}
				if i := slices.IndexFunc(v.Reasons, func(r Reason) bool { return r.Message == w.Message }); i < 0 || v.Reasons[i].Status != check.StatusWarn {
					t.Errorf("the plan's warning %q is not a warn reason: %v", w.Message, v.Reasons)
				}
			}
			if strings.Count(v.Summary, "not verified") > 1 {
				t.Errorf("summary says it twice: %q", v.Summary)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	r := Reason{Layer: check.L1Diff, Check: "vulnerabilities", Message: "1 new critical",
		Measured: "1 critical", Baseline: "0 critical", Threshold: "no new high or critical", Source: "grype db"}
	got := r.String()
	want := "L1 vulnerabilities: 1 new critical (measured 1 critical; baseline 0 critical; threshold no new high or critical; source grype db)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if s := (Reason{Message: "plain"}).String(); !strings.HasPrefix(s, "plain") {
		t.Errorf("got %q", s)
	}
}
