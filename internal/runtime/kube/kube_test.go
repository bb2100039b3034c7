package kube

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/runtimetest"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// node returns the cluster, its real node, and a namespace for the test.
func node(t testing.TB) (*kubetest.Cluster, *kubetest.Node, string) {
	t.Helper()
	c := kubetest.Start(t)
	n := c.Node(t)
	return c, n, c.Namespace(t)
}

// newTestRuntime returns a runtime on the real node, as the CLI builds it: the runtime finds
// that the node is this machine, so host-network pods are reached on 127.0.0.1 and the Summary
// API is read from the kubelet's loopback port.
func newTestRuntime(t testing.TB, c *kubetest.Cluster, n *kubetest.Node, ns string) *Runtime {
	t.Helper()
	rt, err := New(t.Context(), c.Config, WithNamespace(ns),
		WithNodeSelector(map[string]string{corev1.LabelHostname: n.Name}))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// push pushes the suite's image to a registry on loopback the node trusts and returns its
// reference by digest, and the registry's host.
func push(t testing.TB, n *kubetest.Node) (ref, host string) {
	t.Helper()
	return n.Push(t, "runtimetest/app", runtimetest.AppImage(t))
}

func TestConformance(t *testing.T) {
	c, n, ns := node(t)
	ref, host := push(t, n)
	labels := func(ctx context.Context, id string) (map[string]string, error) {
		_, podName, _ := strings.Cut(id, "/")
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return p.Labels, nil
	}
	t.Run("suite", func(t *testing.T) {
		runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newTestRuntime(t, c, n, ns) },
			runtimetest.Images{App: ref, Missing: host + "/runtimetest/no-such-image:0"}, labels,
			runtimetest.HostNetworkOnly(), runtimetest.NoHealthcheck(), runtimetest.NoPID())
	})
	pods, err := c.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("pod left after the suite: %s (%s)", p.Name, p.Status.Phase)
	}
}

// TestPortForward reaches a host-network pod through a port-forward, the way plimsoll outside
// the cluster reaches a pod on a remote node: the runtime is told the node is not this machine.
// (Pods off the host network cannot run here: the node's only CNI plugin is loopback.)
func TestPortForward(t *testing.T) {
	c, n, ns := node(t)
	ref, _ := push(t, n)
	rt, err := New(t.Context(), c.Config, WithNamespace(ns), WithNodeSelector(map[string]string{corev1.LabelHostname: n.Name}))
	if err != nil {
		t.Fatal(err)
	}
	rt.nodes = map[string]nodeInfo{n.Name: {local: false}}
	port := freePort(t)
	inst, err := rt.Start(t.Context(), runtime.Spec{Image: ref, RunID: testenv.NewRunID("pf"), Role: "app", HostNetwork: true,
		Ports: []int{port}, Env: []string{"PORT=" + itoa(port), "LISTEN_ADDR=127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop(context.Background()) })
	addr, err := inst.Endpoint(t.Context(), port)
	if err != nil {
		t.Fatal(err)
	}
	if addr == "127.0.0.1:"+itoa(port) {
		t.Fatalf("Endpoint = %s: the app's own port, not a port-forward", addr)
	}
	if body := get(t, addr); body != "plimsoll-testapp\n" {
		t.Errorf("GET / through the port-forward = %q", body)
	}
}

func TestNamespaceMissing(t *testing.T) {
	c := kubetest.Start(t)
	_, err := New(t.Context(), c.Config, WithNamespace("no-such-namespace"))
	if err == nil || !strings.Contains(err.Error(), `namespace "no-such-namespace" does not exist`) {
		t.Fatalf("New in a missing namespace: %v", err)
	}
}

func TestUserName(t *testing.T) {
	rt := &Runtime{o: options{namespace: "x"}}
	_, err := rt.pod(runtime.Spec{Image: "i", RunID: "r", Role: "x", User: "nobody"})
	if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "numeric users only") {
		t.Fatalf("pod with user nobody: %v", err)
	}
}

// TestGC deletes the pods of dead owners on this host and of named runs, and StopRun those of
// one run; pods of a live owner or of another host stay.
func TestGC(t *testing.T) {
	c, n, ns := node(t)
	ref, _ := push(t, n)
	ctx := t.Context()
	start := func(rt *Runtime, run string) string {
		t.Helper()
		port := freePort(t)
		inst, err := rt.Start(ctx, runtime.Spec{Image: ref, RunID: run, Role: "app", HostNetwork: true,
			Ports: []int{port}, Env: []string{"PORT=" + itoa(port), "LISTEN_ADDR=127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Stop(context.Background()) })
		return inst.ID()
	}
	live := newTestRuntime(t, c, n, ns)
	dead := newTestRuntime(t, c, n, ns)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead.pid = exited.Process.Pid
	elsewhere := newTestRuntime(t, c, n, ns)
	elsewhere.pid, elsewhere.host = exited.Process.Pid, live.host+"-elsewhere"

	runDead, runLive, runElsewhere := testenv.NewRunID("gc-dead"), testenv.NewRunID("gc-live"), testenv.NewRunID("gc-else")
	orphan := start(dead, runDead)
	kept := start(live, runLive)
	other := start(elsewhere, runElsewhere)

	removed, err := live.GC(ctx)
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if !slices.Equal(removed, []string{orphan}) {
		t.Errorf("GC removed %v, want only the dead owner's pod %s", removed, orphan)
	}
	if removed, err = live.GC(ctx, runElsewhere); err != nil || !slices.Equal(removed, []string{other}) {
		t.Errorf("GC of a named run removed %v, %v; want %s", removed, err, other)
	}
	if removed, err = live.StopRun(ctx, runLive); err != nil || !slices.Equal(removed, []string{kept}) {
		t.Errorf("StopRun removed %v, %v; want %s", removed, err, kept)
	}
	if removed, err = live.StopRun(ctx, runLive); err != nil || len(removed) != 0 {
		t.Errorf("StopRun again removed %v, %v; want nothing", removed, err)
	}
}

// BenchmarkStart measures pod create → container running for the conformance image on the
// real node, as runtime/docker's BenchmarkStart does for a container: compare their ms-p50.
func BenchmarkStart(b *testing.B) {
	c, n, ns := node(b)
	ref, _ := push(b, n)
	rt := newTestRuntime(b, c, n, ns)
	runID := testenv.NewRunID("bench")
	var d []time.Duration
	for b.Loop() {
		port := freePort(b)
		t0 := time.Now()
		inst, err := rt.Start(b.Context(), runtime.Spec{Image: ref, RunID: runID, Role: "bench", HostNetwork: true,
			Ports: []int{port}, Env: []string{"PORT=" + itoa(port), "LISTEN_ADDR=127.0.0.1"}})
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := inst.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms-p50")
}
