package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/patches/patchestest"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func TestHelmAndPreflightUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"helm", "history"}, {"helm", "history", "a", "b"}, {"helm", "history", "a", "-o", "yaml"},
		{"helm", "upgrade", "a"}, {"helm", "upgrade", "a", "/nonexistent-chart"}, {"helm", "upgrade", "a", "../../deploy/charts/demo", "--timeout", "0s"},
		{"rollback", "helm/a", "deploy/b"}, {"rollback", "helm/"}, {"rollback", "helm/a", "--dry-run"}, {"rollback", "deploy/a", "--force-unlock"},
		{"preflight"}, {"preflight", "--chart", "x", "-f", "y"}, {"preflight", "-f", "y", "--set", "a=b"}, {"preflight", "--chart", "x", "-o", "yaml"},
	} {
		_, _, err := execute(t, append(args, "--kubeconfig", "/nonexistent")...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

func decision(err error) verdict.Decision {
	var de *DecisionError
	if errors.As(err, &de) {
		return de.Decision
	}
	return ""
}

// TestHelmCommands drives helm upgrade, an atomic upgrade of a broken image, rollback
// helm/NAME and preflight as a user would, under the shipped RBAC.
func TestHelmCommands(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kc := c.KubeconfigFile(t, c.Restricted(t, ns), ns)
	chart := filepath.Join("..", "..", "deploy", "charts", "demo")
	dir := t.TempDir()
	db := filepath.Join(dir, "runs.db")
	incidents := filepath.Join(dir, "incidents")
	k := []string{"--kubeconfig", kc, "--store", db, "--incident-dir", incidents}

	run := func(args ...string) (string, error) {
		t.Helper()
		out, _, err := execute(t, append(args, k...)...)
		return out, err
	}
	if out, err := run("helm", "upgrade", "demo", chart, "--install", "--wait", "--set", "image.tag=1.0"); err != nil || !strings.Contains(out, "installed, revision 1 (nginx:1.0)") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if out, err := run("helm", "upgrade", "demo", chart, "--wait", "--set", "image.tag=1.1"); err != nil || !strings.Contains(out, "to revision 2 (nginx:1.1)") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	out, err := run("helm", "upgrade", "demo", chart, "--atomic", "--timeout", "8s", "--set", "image.tag=1.2:broken")
	if decision(err) != verdict.NoGo || !strings.Contains(out, "FAILED and was rolled back: revision 4 \"Rollback to 2\"") {
		t.Fatalf("atomic upgrade of a broken image: %v\n%s", err, out)
	}
	// revision 3 is the failed one (helm's previous revision): go back to a known good one
	out, err = run("rollback", "helm/demo", "--to-revision", "1", "--timeout", "1m", "--reason", "drill")
	if err != nil || !strings.Contains(out, "helm/demo: rolled back from revision 4 to revision 1, now revision 5") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	out, _, err = execute(t, "helm", "history", "demo", "--kubeconfig", kc)
	if err != nil || !strings.Contains(out, "Rollback to 1") || strings.Count(out, "\n") != 6 {
		t.Fatalf("history: %v\n%s", err, out)
	}
	// both the atomic rollback and the manual one are incidents, as Markdown and in the store
	md, _ := filepath.Glob(filepath.Join(incidents, "*helm-demo*.md"))
	if len(md) != 2 {
		t.Errorf("incident reports: %q", md)
	}
	st, err := open.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.Incidents(context.Background(), store.IncidentFilter{})
	if err != nil || len(incs) != 2 || incs[0].Workload != "helm/demo" || incs[0].Reason != "drill" || incs[0].FromImage != "nginx:1.1" || incs[0].ToImage != "nginx:1.0" || incs[1].FromImage != "nginx:1.2:broken" {
		t.Errorf("stored incidents: %v %+v", err, incs)
	}
	b, _ := os.ReadFile(md[0])
	if !strings.Contains(string(b), "helm/demo") {
		t.Errorf("incident report:\n%s", b)
	}

	kp := []string{"--kubeconfig", kc}
	out, _, err = execute(t, append([]string{"preflight", "--chart", chart, "--release", "demo", "--set", "image.tag=1.3"}, kp...)...)
	if err != nil || strings.Count(out, "PASS") != 6 {
		t.Fatalf("preflight of a healthy release: %v\n%s", err, out)
	}
	out, _, err = execute(t, append([]string{"preflight", "--chart", chart, "--release", "demo", "--set", "resources.requests.memory=1Ti"}, kp...)...)
	if decision(err) != verdict.NoGo || !strings.Contains(out, "capacity") || !strings.Contains(out, "not enough room") {
		t.Fatalf("preflight of a release too big for the nodes: %v\n%s", err, out)
	}
	c.Kubectl(t, "-n", ns, "set", "image", "deploy/demo", "web=nginx:1.4:broken")
	for range 60 {
		if out, _, err = execute(t, append([]string{"preflight", "--chart", chart, "--release", "demo", "-o", "json"}, kp...)...); decision(err) == verdict.Caution {
			break
		}
	}
	if decision(err) != verdict.Caution || !strings.Contains(out, `"check": "current-pods"`) {
		t.Fatalf("preflight over pods that are not Ready: %v\n%s", err, out)
	}

	// --image: the image's vulnerabilities, matched offline. The bad build brings two
	// critical findings; the patched one none.
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the package inventories Layer 1 caches
	line, reg, db := patchestest.Images(t, time.Time{}), testenv.Registry(t, nil), patchestest.VulnDB(t)
	patchestest.Push(t, reg+"/shop/base:bad", line.Bad)
	patchestest.Push(t, reg+"/shop/base:patched", line.Patched)
	c.Kubectl(t, "-n", ns, "set", "image", "deploy/demo", "web=nginx:1.3")
	for _, tc := range []struct {
		tag  string
		want verdict.Decision
	}{{"bad", verdict.NoGo}, {"patched", verdict.Go}} {
		var d verdict.Decision
		for range 60 { // until the pods of the last release are Ready again
			out, _, err = execute(t, append([]string{"preflight", "--chart", chart, "--release", "demo", "--set", "image.tag=1.3",
				"--image", "registry:" + reg + "/shop/base:" + tc.tag, "--vuln-db", db}, kp...)...)
			if d = decision(err); err == nil {
				d = verdict.Go
			}
			if d != verdict.Caution {
				break
			}
		}
		if d != tc.want || !strings.Contains(out, "vulnerabilities") {
			t.Errorf("preflight --image %s: %v (%v), want %s\n%s", tc.tag, d, err, tc.want, out)
		}
		if tc.want == verdict.NoGo && !strings.Contains(out, "CVE-2099-1007") {
			t.Errorf("preflight --image bad does not name CVE-2099-1007:\n%s", out)
		}
	}
}
