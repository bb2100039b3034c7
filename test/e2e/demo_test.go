package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestDemo runs the README's main job (scripts/demo.sh) with the binary under test.
func TestDemo(t *testing.T) {
	testenv.Docker(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/demo.sh")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "PLIMSOLL="+bin, "DEMO_REPORT_DIR="+out, "DEMO_VULNDB="+filepath.Join(out, "vulndb"))
	b, err := cmd.CombinedOutput()
	t.Logf("demo.sh:\n%s", b)
	if err != nil {
		t.Fatalf("demo.sh: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "plimsoll-demo:1.0.0", "plimsoll-demo:1.0.1").Run() })
	sum := summary(t, out)
	if k := get(t, sum, "plan", "kind"); k != "patch" {
		t.Errorf("plan kind = %v, want patch (1.0.0 → 1.0.1)", k)
	}
	vu := result1(t, sum, "vulnerabilities")
	if vu["status"] != "pass" || vu["message"] != "2 fixed, 0 introduced, 1 persisting" {
		t.Errorf("vulnerabilities: %v %q", vu["status"], vu["message"])
	}
	cf := result1(t, sum, "config")
	if cf["status"] != "pass" || !strings.Contains(cf["message"].(string), "harmless") {
		t.Errorf("config: %v %q", cf["status"], cf["message"])
	}
	// L2 and L5 ran for real and pass, but for the SBOM: the demo images live in the local
	// daemon, where nothing can be attached to them, and the demo policy makes that CAUTION.
	for _, l := range get(t, sum, "layers").([]any) {
		lm := l.(map[string]any)
		switch lm["layer"].(float64) {
		case 2:
			if lm["state"] != "ran" || lm["status"] != "pass" {
				t.Errorf("L2: %v %v", lm["state"], lm["status"])
			}
		case 5:
			if lm["state"] != "ran" || lm["status"] != "warn" {
				t.Errorf("L5: %v %v", lm["state"], lm["status"])
			}
		}
	}
	reasons := get(t, sum, "verdict", "reasons").([]any)
	if d := get(t, sum, "verdict", "decision"); d != "CAUTION" || !hasReason(reasons, 5, "sbom", "warn") {
		t.Errorf("decision = %v, reasons %v; want CAUTION with L5 sbom warn", d, reasons)
	}
	for _, f := range []string{"old.spdx.json", "old.cdx.json", "new.spdx.json", "new.cdx.json"} {
		if _, err := os.Stat(filepath.Join(out, "sbom", f)); err != nil {
			t.Error(err)
		}
	}
}
