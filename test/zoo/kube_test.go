package zoo

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
	"github.com/plimsoll/plimsoll/internal/testenv"
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

// TestKubernetesBadInput: what a cluster cannot run gives one clear reason, verdict ERROR (exit
// 1), and leaves no pod behind.
func TestKubernetesBadInput(t *testing.T) {
	c := kubetest.Start(t)
	n := c.Node(t)
	zooRegistry = signtest.StartRegistry(t, true)
	if err := n.TrustRegistry(zooRegistry); err != nil {
		t.Fatal(err)
	}
	img := testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1.4.2"}})
	img2 := testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1.4.3"}})
	ns := c.Namespace(t)
	for _, tc := range []struct {
		name string
		refs func(t *testing.T) (string, string)
		ns   string
		want string
	}{
		{"namespace missing", func(t *testing.T) (string, string) {
			o, n, _ := pushPair(t, "bad-ns", img, img2, "1.4.2", "1.4.3")
			return o, n
		}, "no-such-namespace", `namespace "no-such-namespace" does not exist`},
		{"image from a layout", func(t *testing.T) (string, string) {
			o, _, _ := pushPair(t, "bad-layout", img, img2, "1.4.2", "1.4.3")
			dir := filepath.Join(t.TempDir(), "oci")
			lp, err := layout.Write(dir, empty.Index)
			if err != nil {
				t.Fatal(err)
			}
			if err := lp.AppendImage(img2, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "1.4.3"})); err != nil {
				t.Fatal(err)
			}
			return o, "oci-dir:" + dir + ":1.4.3"
		}, ns, "a cluster runs only images its nodes pull from a registry"},
		{"image the node cannot pull", func(t *testing.T) (string, string) {
			// A registry that lets plimsoll read the images but refuses the node's containerd,
			// as a registry refuses a node without pull credentials: ErrImagePull.
			host := testenv.Registry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.UserAgent(), "containerd") {
						http.Error(w, `{"errors":[{"code":"DENIED","message":"no pull credentials"}]}`, http.StatusForbidden)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			for tag, i := range map[string]v1.Image{"1.4.2": img, "1.4.3": img2} {
				ref, err := name.ParseReference(host + "/zoo/unpullable:" + tag)
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(ref, i); err != nil {
					t.Fatal(err)
				}
			}
			return "registry:" + host + "/zoo/unpullable:1.4.2", "registry:" + host + "/zoo/unpullable:1.4.3"
		}, ns, "ErrImagePull"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, nw := tc.refs(t)
			p := writePolicy(t, basePolicy(compressed, "diff, smoke, harden")+"harden:\n  sbom: {required: false}\n"+signaturesNotUsed)
			hostNetwork(t, p)
			code, sum := check(t, o, nw, "--policy", p, "--vuln-db", buildVulnDB(t),
				"--runtime", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", tc.ns)
			if d := pick(sum, "verdict", "decision"); code != 1 || d != "ERROR" {
				t.Errorf("exit %d, decision %v; want 1, ERROR", code, d)
			}
			if s := fmt.Sprint(pick(sum, "verdict")); !strings.Contains(s, tc.want) {
				t.Errorf("verdict %s; want it to say %q", s, tc.want)
			}
			pods, err := c.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods.Items {
				t.Errorf("pod left behind: %s (%s)", p.Name, p.Status.Phase)
			}
		})
	}
}

// TestGCKubernetes: plimsoll gc --runtime kubernetes deletes the pods of a plimsoll process of
// this host that is gone, and leaves those of a live one.
func TestGCKubernetes(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	pod := func(name string, pid int) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"plimsoll.run": name, "plimsoll.role": "app"},
				Annotations: map[string]string{"plimsoll.pid": strconv.Itoa(pid), "plimsoll.host": host, "plimsoll.started": now}},
			// Scheduled nowhere: a pod gc deletes need not run.
			Spec: corev1.PodSpec{NodeSelector: map[string]string{"plimsoll.test/no-such-node": "x"},
				Containers: []corev1.Container{{Name: "app", Image: "127.0.0.1:1/none@sha256:" + strings.Repeat("0", 64)}}},
		}
		if _, err := c.Client.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod("orphan", exited.Process.Pid)
	pod("owned", os.Getpid())

	out, err := exec.Command(bin, "gc", "--runtime", "kubernetes", "--kubeconfig", c.Kubeconfig, "-n", ns).CombinedOutput()
	t.Logf("plimsoll gc --runtime kubernetes:\n%s", out)
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	if want := "removed " + ns + "/orphan\n1 pods removed\n"; string(out) != want {
		t.Errorf("gc printed %q, want %q", out, want)
	}
	left, err := c.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 1 || left.Items[0].Name != "owned" {
		t.Errorf("pods left: %v, want only the live owner's", left.Items)
	}
}
