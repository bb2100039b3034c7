package preflight

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/helm"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

func demoChart() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "charts", "demo")
}

// statuses maps check names to statuses.
func statuses(rs []check.Result) map[string]check.Status {
	m := map[string]check.Status{}
	for _, r := range rs {
		m[r.Check] = r.Status
	}
	return m
}

func find(rs []check.Result, name string) check.Result {
	for _, r := range rs {
		if r.Check == name {
			return r
		}
	}
	return check.Result{}
}

// setup returns a restricted configuration for a fresh namespace where the demo chart is
// installed (so current pods and server-side apply of existing objects are exercised).
func setup(t *testing.T) (*kubetest.Cluster, *rest.Config, string) {
	t.Helper()
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	cfg := c.Restricted(t, ns)
	hc, err := helm.New(kube.ClientOptions{Kubeconfig: c.KubeconfigFile(t, cfg, ns)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, vals, err := helm.ChartValues(demoChart(), nil, []string{"image.tag=1.0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := hc.Upgrade(ctx, "demo", ch, vals, helm.UpgradeOptions{Install: true, Wait: true, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return c, cfg, ns
}

func run(t *testing.T, cfg *rest.Config, ns string, set ...string) []check.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := Run(ctx, cfg, Options{Chart: demoChart(), Release: "demo", Namespace: ns, Set: set})
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	return rs
}

func TestPreflight(t *testing.T) {
	c, cfg, ns := setup(t)

	t.Run("healthy", func(t *testing.T) {
		rs := run(t, cfg, ns, "image.tag=1.1", "canary.enabled=true")
		for _, r := range rs {
			if r.Status != check.StatusPass {
				t.Errorf("%s: %s: %s", r.Check, r.Status, r.Message)
			}
		}
		want := []string{CheckLint, CheckRender, CheckDryRun, CheckNodes, CheckPods, CheckCapacity}
		if len(rs) != len(want) {
			t.Fatalf("%d results, want %d", len(rs), len(want))
		}
		if d := find(rs, CheckDryRun); d.Measured != "3 of 3 accepted" {
			t.Errorf("dry run: %s", d.Measured)
		}
		if p := find(rs, CheckPods); !strings.Contains(p.Message, "2 of 2 pods Running and Ready") {
			t.Errorf("current pods: %s", p.Message)
		}
		// a dry run changed nothing
		if img := c.Kubectl(t, "-n", ns, "get", "deploy/demo", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "nginx:1.0" {
			t.Errorf("image after preflight: %q", img)
		}
	})

	t.Run("rejected object", func(t *testing.T) {
		rs := run(t, cfg, ns, "service.port=70000")
		d := find(rs, CheckDryRun)
		if d.Status != check.StatusFail || !strings.Contains(d.Message, "service/demo") {
			t.Fatalf("dry run: %s: %s", d.Status, d.Message)
		}
		if s := statuses(rs); s[CheckNodes] != check.StatusPass || s[CheckCapacity] != check.StatusPass {
			t.Errorf("other checks: %v", s)
		}
	})

	t.Run("request bigger than allocatable", func(t *testing.T) {
		rs := run(t, cfg, ns, "resources.requests.cpu=20", "replicaCount=2") // the node has 32 CPUs
		r := find(rs, CheckCapacity)
		if r.Status != check.StatusFail || !strings.Contains(r.Message, "cpu: the new replicas request 40") {
			t.Fatalf("capacity: %s: %s", r.Status, r.Message)
		}
		if s := statuses(rs); s[CheckDryRun] != check.StatusPass {
			t.Errorf("other checks: %v", s)
		}
	})

	t.Run("node cordoned", func(t *testing.T) {
		c.Kubectl(t, "cordon", kubetest.NodeName)
		t.Cleanup(func() { c.Kubectl(t, "uncordon", kubetest.NodeName) })
		rs := run(t, cfg, ns)
		r := find(rs, CheckNodes)
		if r.Status != check.StatusFail || !strings.Contains(r.Message, "cordoned") {
			t.Fatalf("nodes: %s: %s", r.Status, r.Message)
		}
		// no usable node: no room either
		if s := statuses(rs); s[CheckCapacity] != check.StatusFail {
			t.Errorf("capacity with every node cordoned: %v", s[CheckCapacity])
		}
	})

	t.Run("current pods not ready", func(t *testing.T) {
		c.Kubectl(t, "-n", ns, "set", "image", "deploy/demo", "web=nginx:1.0:broken")
		deadline := time.Now().Add(30 * time.Second)
		for {
			rs := run(t, cfg, ns)
			r := find(rs, CheckPods)
			if r.Status == check.StatusWarn && strings.Contains(r.Message, "ready false") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("current pods: %s: %s", r.Status, r.Message)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

func TestManifests(t *testing.T) {
	_, cfg, ns := setup(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := Run(context.Background(), cfg, Options{Manifests: []string{good}, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	// the RBAC grants no configmaps: the API server forbids even the dry run
	d := find(rs, CheckDryRun)
	if d.Status != check.StatusFail || d.Measured != "0 of 2 accepted" || !strings.Contains(d.Message, "forbidden") {
		t.Fatalf("dry run of configmaps: %s %s: %s", d.Status, d.Measured, d.Message)
	}
	if r := find(rs, CheckPods); r.Status != check.StatusPass || r.Message != "no Deployment among the objects" {
		t.Errorf("current pods: %s: %s", r.Status, r.Message)
	}
}
