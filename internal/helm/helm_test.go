package helm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// demoChart is the repository's chart deploy/charts/demo.
func demoChart() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "charts", "demo")
}

// restricted returns a client for a fresh namespace, authenticated as the shipped RBAC's
// ServiceAccount, so every test also proves the RBAC manifest is enough.
func restricted(t *testing.T) (*Client, *kubetest.Cluster, string) {
	t.Helper()
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kc := c.KubeconfigFile(t, c.Restricted(t, ns), ns)
	hc, err := New(kube.ClientOptions{Kubeconfig: kc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hc.Namespace() != ns {
		t.Fatalf("namespace = %q, want %q", hc.Namespace(), ns)
	}
	return hc, c, ns
}

func load(t *testing.T, set ...string) (*chart.Chart, map[string]any) {
	t.Helper()
	ch, vals, err := ChartValues(demoChart(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	return ch, vals
}

func upgrade(t *testing.T, hc *Client, tag string, atomic bool) (UpgradeResult, error) {
	t.Helper()
	ch, vals := load(t, "image.tag="+tag, "replicaCount=2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return hc.Upgrade(ctx, "demo", ch, vals, UpgradeOptions{Install: true, Wait: true, Atomic: atomic, Timeout: 20 * time.Second})
}

func TestInstallUpgradeRollback(t *testing.T) {
	hc, c, ns := restricted(t)
	ctx := context.Background()
	if _, err := hc.History(ctx, "demo"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("history before install: %v, want ErrNotFound", err)
	}
	res, err := upgrade(t, hc, "1.0", false)
	if err != nil || !res.Installed || res.Now.Number != 1 {
		t.Fatalf("install: %+v, %v", res, err)
	}
	if res, err = upgrade(t, hc, "1.1", false); err != nil || res.From.Number != 1 || res.Now.Number != 2 {
		t.Fatalf("upgrade: %+v, %v", res, err)
	}
	rb, err := hc.Rollback(ctx, "demo", RollbackOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if !rb.Applied || rb.From.Number != 2 || rb.To.Number != 1 || rb.NewRevision != 3 || rb.Stuck {
		t.Fatalf("rollback result %+v", rb)
	}
	if got := strings.Join(rb.To.Images, ","); got != "nginx:1.0" {
		t.Fatalf("rolled back to images %q, want nginx:1.0", got)
	}
	// helm history semantics: revision N+1 is "Rollback to N", the old ones superseded
	h, err := hc.History(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status release.Status
		desc   string
	}{{release.StatusSuperseded, "Install complete"}, {release.StatusSuperseded, "Upgrade complete"}, {release.StatusDeployed, "Rollback to 1"}}
	if len(h) != len(want) {
		t.Fatalf("history has %d revisions, want %d: %+v", len(h), len(want), h)
	}
	for i, w := range want {
		if h[i].Number != i+1 || h[i].Status != w.status || h[i].Description != w.desc {
			t.Errorf("revision %d: %d %s %q, want %s %q", i+1, h[i].Number, h[i].Status, h[i].Description, w.status, w.desc)
		}
	}
	// the cluster runs the restored image, and its pods are Ready (Rollback waited)
	img := c.Kubectl(t, "-n", ns, "get", "deploy/demo", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.status.readyReplicas}")
	if img != "nginx:1.0 2" {
		t.Fatalf("deployment after rollback: %q, want %q", img, "nginx:1.0 2")
	}
	// a given revision, and one that does not exist
	if rb, err = hc.Rollback(ctx, "demo", RollbackOptions{ToRevision: 2, Timeout: time.Minute}); err != nil || rb.To.Number != 2 || rb.NewRevision != 4 {
		t.Fatalf("rollback --to-revision 2: %+v, %v", rb, err)
	}
	if _, err = hc.Rollback(ctx, "demo", RollbackOptions{ToRevision: 9, Timeout: time.Minute}); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("rollback to a missing revision: %v, want ErrNoTarget", err)
	}
}

func TestAtomicUpgradeOfBrokenImageIsRolledBack(t *testing.T) {
	hc, c, ns := restricted(t)
	if _, err := upgrade(t, hc, "1.0", false); err != nil {
		t.Fatal(err)
	}
	res, err := upgrade(t, hc, "1.1:broken", true)
	if !errors.Is(err, ErrUpgradeFailed) {
		t.Fatalf("atomic upgrade to a broken image: %v, want ErrUpgradeFailed", err)
	}
	if !res.RolledBack || res.To.Number != 2 || res.To.Status != release.StatusFailed || res.Now.Number != 3 || res.Now.Description != "Rollback to 1" {
		t.Fatalf("result %+v", res)
	}
	if img := c.Kubectl(t, "-n", ns, "get", "deploy/demo", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx:1.0" {
		t.Fatalf("image after the atomic rollback: %q", img)
	}
}

func TestPendingUpgradeIsRecovered(t *testing.T) {
	for _, unlock := range []bool{false, true} {
		t.Run(map[bool]string{false: "rollback", true: "force-unlock"}[unlock], func(t *testing.T) {
			hc, _, _ := restricted(t)
			ctx := context.Background()
			if _, err := upgrade(t, hc, "1.0", false); err != nil {
				t.Fatal(err)
			}
			if _, err := upgrade(t, hc, "1.1", false); err != nil {
				t.Fatal(err)
			}
			// simulate a helm process killed mid-upgrade: revision 3 written as pending-upgrade
			// through the SDK's storage, as helm writes it before touching the cluster
			last, err := hc.cfg.Releases.Last("demo")
			if err != nil {
				t.Fatal(err)
			}
			stuck := *last
			info := *last.Info
			stuck.Info, stuck.Version = &info, 3
			stuck.Info.Status, stuck.Info.Description = release.StatusPendingUpgrade, "Preparing upgrade"
			if err := hc.cfg.Releases.Create(&stuck); err != nil {
				t.Fatal(err)
			}
			if _, err := upgrade(t, hc, "1.2", false); !errors.Is(err, ErrPending) {
				t.Fatalf("upgrade of a pending release: %v, want ErrPending", err)
			}
			var steps []string
			rb, err := hc.Rollback(ctx, "demo", RollbackOptions{Timeout: time.Minute, ForceUnlock: unlock, Progress: func(s string) { steps = append(steps, s) }})
			if err != nil {
				t.Fatal(err)
			}
			// the last deployed revision is 2, not 3-1 by arithmetic only: check it is chosen as deployed
			if !rb.Stuck || rb.Unlocked != unlock || rb.To.Number != 2 || rb.NewRevision != 4 {
				t.Fatalf("result %+v", rb)
			}
			if !strings.Contains(rb.Message, "stuck in pending-upgrade") {
				t.Errorf("message %q does not say what happened", rb.Message)
			}
			h, err := hc.History(ctx, "demo")
			if err != nil {
				t.Fatal(err)
			}
			wantStuck := release.StatusPendingUpgrade // helm supersedes only deployed revisions
			if unlock {
				wantStuck = release.StatusFailed
			}
			if h[2].Status != wantStuck || h[3].Status != release.StatusDeployed || h[3].Description != "Rollback to 2" {
				t.Fatalf("history after recovery: %+v", h)
			}
			if len(steps) < 2 {
				t.Errorf("progress: %q", steps)
			}
			// the release can be upgraded again
			if _, err := upgrade(t, hc, "1.2", false); err != nil {
				t.Fatalf("upgrade after recovery: %v", err)
			}
		})
	}
}

// TestRollbackTime measures helm rollback (with the wait for 2 Ready pods) over several runs.
func TestRollbackTime(t *testing.T) {
	hc, _, _ := restricted(t)
	if _, err := upgrade(t, hc, "1.0", false); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for i := range 3 {
		if _, err := upgrade(t, hc, "2."+string(rune('0'+i)), false); err != nil {
			t.Fatal(err)
		}
		rb, err := hc.Rollback(context.Background(), "demo", RollbackOptions{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		took = append(took, rb.Took)
	}
	t.Logf("helm rollback with wait (2 replicas, kwok): %v", took)
}
