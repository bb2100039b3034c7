package gate

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// TestCheckDistroDowngradeIsCaution runs the gate on the real Alpine 3.20.3 → 3.19.4 pair, a
// downgrade, with every check passing: the plan's downgrades hold the verdict at CAUTION, each
// a reason with its evidence.
func TestCheckDistroDowngradeIsCaution(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3.19.4", "3.20.3"} {
		if err := lp.AppendImage(testenv.AlpineImage(t, v), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": v})); err != nil {
			t.Fatal(err)
		}
	}
	pass := fake{name: "packages", run: func(context.Context) (check.Result, error) {
		return check.Result{Status: check.StatusPass, Message: "fine"}, nil
	}}
	run := func(old, new string) *verdict.Verdict {
		rep, err := Check(context.Background(), Request{Old: "oci-dir:" + dir + ":" + old, New: "oci-dir:" + dir + ":" + new,
			Layers: []check.Layer{check.L1Diff}, Policy: config.Default(),
			Checks: func(Setup) Layers {
				return Layers{check.L1Diff: {Checks: []check.Check{pass}}}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return &rep.Verdict
	}
	// The upgrade is not held for a downgrade (a distro plan whose soak did not judge memory
	// is CAUTION for that reason alone: see TestLeakCheck).
	for _, r := range run("3.19.4", "3.20.3").Reasons {
		if r.Check == "downgrade" || strings.Contains(r.Message, "downgrade") {
			t.Errorf("the upgrade 3.19.4 → 3.20.3 has the reason %+v", r)
		}
	}
	v := run("3.20.3", "3.19.4")
	if v.Decision != verdict.Caution {
		t.Fatalf("the downgrade 3.20.3 → 3.19.4: %s (%s), want CAUTION", v.Decision, v.Summary)
	}
	want := map[string][2]string{"alpine release": {"3.20.3", "3.19.4"}, "musl": {"1.2.5-r0", "1.2.4_git20230717-r4"}, "OpenSSL": {"3.3.2-r0", "3.1.7-r0"}}
	for _, r := range v.Reasons {
		if r.Check != "downgrade" {
			continue
		}
		for what, vs := range want {
			if r.Message == "the new image downgrades "+what+" "+vs[0]+"→"+vs[1] {
				if r.Status != check.StatusWarn || r.Baseline != vs[0] || r.Measured != vs[1] || r.Threshold == "" || r.Source == "" {
					t.Errorf("reason %+v: want warn with baseline %s, measured %s, a threshold and a source", r, vs[0], vs[1])
				}
				delete(want, what)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("no downgrade reason for %v in %v", want, v.Reasons)
	}
}
