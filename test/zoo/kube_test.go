package zoo

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

// kubeLayers are the layers whose pairs the zoo also runs on Kubernetes in every run: their
// checks start the images one at a time. Layer 4 and 6 run OLD and NEW at once.
var kubeLayers = []float64{2, 3, 5}

// TestZooKubernetes runs the pairs caught by Layers 2, 3 and 5 with --runtime kubernetes on the
// test cluster's real node, and wants the verdicts the Docker engine gives: the images are
// pulled by the node from the zoo's loopback registry, by digest, and run as host-network pods
// (the node has no pod network) listening on 127.0.0.1.
func TestZooKubernetes(t *testing.T) {
	c := kubetest.Start(t)
	n := c.Node(t)
	zooRegistry = signtest.StartRegistry(t, true)
	if err := n.TrustRegistry(zooRegistry); err != nil {
		t.Fatal(err)
	}
	var cases []zooCase
	for _, zc := range zooCases(t, runProfile()) {
		if slices.Contains(kubeLayers, zc.layer) {
			cases = append(cases, zc)
		}
	}
	args := []string{"--runtime", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", c.Namespace(t)}
	runZoo(t, cases, buildVulnDB(t), args, hostNetwork)
}

// hostNetwork edits a zoo policy to run the app on the real node (the test cluster's others are
// kwok's, which run nothing), on the host's network, listening on loopback.
func hostNetwork(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "\napp:\n") || strings.Contains(s, "hostNetwork") {
		t.Fatalf("policy %s: no app section to edit, or one on the host network already", path)
	}
	s = strings.Replace(s, "\napp:\n", "\napp:\n  hostNetwork: true\n  env: [TESTAPP_ADDR=127.0.0.1]\n", 1) +
		"runtime: {nodeSelector: {kubernetes.io/hostname: " + kubetest.RealNodeName + "}}\n"
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
