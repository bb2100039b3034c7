package kube

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/runtimetest"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// node returns the cluster, its real node, and a namespace for the test.
func node(t *testing.T) (*kubetest.Cluster, *kubetest.Node, string) {
	t.Helper()
	c := kubetest.Start(t)
	n := c.Node(t)
	return c, n, c.Namespace(t)
}

// newTestRuntime returns a runtime on the real node, as tests reach it: host-network pods on
// this machine, the Summary API read from the kubelet's loopback port.
func newTestRuntime(t *testing.T, c *kubetest.Cluster, n *kubetest.Node, ns string) *Runtime {
	t.Helper()
	rt, err := New(t.Context(), c.Config, WithNamespace(ns), WithLocalNode(), WithKubelet(n.Kubelet, n.KubeletConfig),
		WithNodeSelector(map[string]string{corev1.LabelHostname: n.Name}))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// push pushes the suite's image to a registry on loopback the node trusts and returns its
// reference by digest, and the registry's host.
func push(t *testing.T, n *kubetest.Node) (ref, host string) {
	t.Helper()
	host = testenv.Registry(t, nil)
	if err := n.TrustRegistry(host); err != nil {
		t.Fatal(err)
	}
	img := runtimetest.AppImage(t)
	tag, err := name.ParseReference(host + "/runtimetest/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host + "/runtimetest/app@" + d.String(), host
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
// the cluster reaches a pod on a remote node.
func TestPortForward(t *testing.T) {
	c, n, ns := node(t)
	ref, _ := push(t, n)
	rt, err := New(t.Context(), c.Config, WithNamespace(ns), WithNodeSelector(map[string]string{corev1.LabelHostname: n.Name}))
	if err != nil {
		t.Fatal(err)
	}
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
