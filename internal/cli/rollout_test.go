package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/metrics/promtest"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func TestRolloutUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"rollout"},
		{"rollout", "pod/x", "--image", "a:2", "--router", "ingress/x"},
		{"rollout", "deploy/x", "--router", "ingress/x"}, // no --image
		{"rollout", "deploy/x", "--image", "a:2"},        // a canary needs a router
		{"rollout", "deploy/x", "--image", "a:2", "--router", "service/x"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress"},
		{"rollout", "deploy/x", "--image", "a:2", "--strategy", "bluegreen", "--router", "ingress/x"},
		{"rollout", "deploy/x", "--image", "a:2", "--strategy", "bluegreen", "--steps", "50,100"},
		{"rollout", "deploy/x", "--image", "a:2", "--strategy", "rainbow", "--router", "ingress/x"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--steps", "50,25,100"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--steps", "10,50"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--interval", "0s"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--prometheus", "prom:9090"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--webhook", "/hook"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--pause", "soon"},
		{"rollout", "deploy/x", "--strategy", "bluegreen", "--revert", "--finish"},
		{"rollout", "deploy/x", "--router", "ingress/x", "--finish"}, // a canary finishes by itself
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--fallback", "sometimes"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--mirror", "registry.example"},
		{"rollout", "deploy/x", "--image", "a:2", "--router", "ingress/x", "--policy", "/nonexistent/policy.yaml"},
	} {
		_, _, err := execute(t, args...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

// restrictedKubeconfig writes cfg (a ServiceAccount token) as a kubeconfig file.
func restrictedKubeconfig(t *testing.T, cfg *rest.Config, ns string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["plimsoll"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "plimsoll", Namespace: ns}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// rolloutApp creates Deployment and Service NAME (image registry.example/NAME:1) as the admin.
func rolloutApp(t *testing.T, c *kubetest.Cluster, ns, name string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	_, err := c.Client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// canaryIngress creates Ingress NAME for Service NAME (as the admin), for the ingress router.
func canaryIngress(t *testing.T, c *kubetest.Cluster, ns, name string) {
	t.Helper()
	prefix := networkingv1.PathTypePrefix
	if _, err := c.Client.NetworkingV1().Ingresses(ns).Create(context.Background(), &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRolloutCommand runs plimsoll rollout on the test cluster with the shipped RBAC role:
// a canary whose success rate drops at 25 % is aborted (exit 20), traffic goes back to the
// primary, and the incident is in the store and in Markdown.
func TestRolloutCommand(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kubeconfig := restrictedKubeconfig(t, c.Restricted(t, ns), ns)
	ctx := context.Background()
	name := "shop"
	rolloutApp(t, c, ns, name, 4)
	canaryIngress(t, c, ns, name)
	prom := promtest.Start(t, func(q string) promtest.Answer {
		if strings.Contains(q, "histogram_quantile") || !strings.Contains(q, "shop-canary-") {
			return promtest.Answer{Value: 0.1}
		}
		ing, err := c.Client.NetworkingV1().Ingresses(ns).Get(context.Background(), name+"-canary", metav1.GetOptions{})
		if err != nil {
			return promtest.Answer{Error: err.Error()}
		}
		if w := ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"]; w != "10" {
			return promtest.Answer{Value: 0.95} // degraded from 25 % on
		}
		return promtest.Answer{Value: 0.999}
	})
	dir := t.TempDir()
	dsn := filepath.Join(dir, "plimsoll.db")
	out, stderr, err := execute(t, "rollout", "deploy/"+name, "--image", "registry.example/shop:2",
		"--kubeconfig", kubeconfig, "--router", "ingress/"+name, "--prometheus", prom.URL,
		"--pause", "300ms", "--interval", "100ms", "--store", dsn, "--incident-dir", filepath.Join(dir, "incidents"))
	t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr)
	var d *DecisionError
	if !errors.As(err, &d) || d.Decision != verdict.NoGo {
		t.Fatalf("err = %v, want a NO-GO decision (exit 20)", err)
	}
	for _, want := range []string{
		"Progressing step 1/5 weight 10% SetWeight(10)",
		"success-rate pass canary=0.999 primary=0.1 (>= 0.99)",
		"Aborting weight 0% SetWeight(0) ScaleCanary(0)",
		"success-rate fail canary=0.95 primary=0.1 (>= 0.99)",
		"Aborted weight 0%",
		"ABORTED: at 25%",
		"incident report: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	inc := oneIncident(t, dsn, "deploy/"+name)
	if inc.Kind != store.IncidentAbortedRollout || inc.FromImage != "registry.example/shop:2" || inc.ToImage != "registry.example/shop:1" {
		t.Errorf("incident %+v", inc)
	}
	md, err := os.ReadFile(filepath.Join(dir, "incidents", inc.ID+".md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "applied SetWeight(0)") || !strings.Contains(string(md), "## Timeline") {
		t.Errorf("incident report:\n%s", md)
	}
	ing, err := c.Client.NetworkingV1().Ingresses(ns).Get(ctx, name+"-canary", metav1.GetOptions{})
	if err != nil || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] != "0" {
		t.Fatalf("canary ingress %v (%v): want weight 0", ing.Annotations, err)
	}
}

// TestRolloutBlueGreenCommand switches a Service to green after an acceptance webhook
// passed, then reverts it with --revert: exit 0 both times, and the revert is an incident.
func TestRolloutBlueGreenCommand(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kubeconfig := restrictedKubeconfig(t, c.Restricted(t, ns), ns)
	ctx := context.Background()
	name := "cart"
	rolloutApp(t, c, ns, name, 3)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer hook.Close()
	dsn := filepath.Join(t.TempDir(), "plimsoll.db")
	common := []string{"deploy/" + name, "--kubeconfig", kubeconfig, "--strategy", "bluegreen", "--pause", "200ms", "--interval", "100ms", "--store", dsn}
	out, _, err := execute(t, append([]string{"rollout", "--image", "registry.example/cart:2", "--webhook", hook.URL}, common...)...)
	t.Logf("rollout:\n%s", out)
	if err != nil {
		t.Fatalf("rollout: %v", err)
	}
	if !strings.Contains(out, "webhook-1 pass canary=HTTP 200") || !strings.Contains(out, "PROMOTED: ") {
		t.Errorf("output lacks the webhook gate or the promotion")
	}
	selector := func() string {
		svc, err := c.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc.Spec.Selector["app"]
	}
	if got := selector(); got != name+"-canary" {
		t.Fatalf("service selects app=%s after the switch, want green", got)
	}
	out, _, err = execute(t, append([]string{"rollout", "--revert"}, common...)...)
	t.Logf("revert:\n%s", out)
	if err != nil {
		t.Fatalf("rollout --revert: %v", err)
	}
	if got := selector(); got != name {
		t.Fatalf("service selects app=%s after the revert, want blue", got)
	}
	if inc := oneIncident(t, dsn, "deploy/"+name); inc.Kind != store.IncidentRollback || inc.FromImage != "registry.example/cart:2" || inc.ToImage != "registry.example/cart:1" {
		t.Errorf("incident %+v", inc)
	}

	// Promoted again, then finished: blue runs green's spec and has the traffic, green is at
	// zero, and another rollout may begin.
	if _, _, err = execute(t, append([]string{"rollout", "--image", "registry.example/cart:3"}, common...)...); err != nil {
		t.Fatalf("second rollout: %v", err)
	}
	if _, _, err := execute(t, append([]string{"rollout", "--finish", "--image", "registry.example/cart:3"}, common...)...); !errors.Is(err, ErrUsage) {
		t.Errorf("--finish with --image: %v, want a usage error", err)
	}
	out, _, err = execute(t, append([]string{"rollout", "--finish"}, common...)...)
	t.Logf("finish:\n%s", out)
	if err != nil {
		t.Fatalf("rollout --finish: %v", err)
	}
	blue, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	green, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name+"-canary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := selector(); got != name || blue.Spec.Template.Spec.Containers[0].Image != "registry.example/cart:3" || *green.Spec.Replicas != 0 {
		t.Errorf("after --finish: service selects %s, blue runs %s, green has %d replicas", got, blue.Spec.Template.Spec.Containers[0].Image, *green.Spec.Replicas)
	}
	if !strings.Contains(out, "FINISHED: service/cart selects cart again") {
		t.Errorf("output lacks FINISHED")
	}
	if _, _, err := execute(t, append([]string{"rollout", "--finish"}, common...)...); err == nil || !strings.Contains(err.Error(), "no blue/green switch to finish") {
		t.Errorf("a second --finish: %v, want nothing to finish", err)
	}
}

// TestRolloutInterrupted: a rollout interrupted while the canary holds 10 % puts the traffic
// back on the primary and scales the canary to zero before it exits, and records why.
func TestRolloutInterrupted(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kubeconfig := restrictedKubeconfig(t, c.Restricted(t, ns), ns)
	name := "basket"
	rolloutApp(t, c, ns, name, 2)
	canaryIngress(t, c, ns, name)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	weight := func() string {
		ing, err := c.Client.NetworkingV1().Ingresses(ns).Get(context.Background(), name+"-canary", metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"]
	}
	go func() {
		for ctx.Err() == nil && weight() != "10" {
			time.Sleep(50 * time.Millisecond)
		}
		cancel() // as SIGINT does
	}()
	dsn := filepath.Join(t.TempDir(), "plimsoll.db")
	var out, errb bytes.Buffer
	err := Execute(ctx, []string{"rollout", "deploy/" + name, "--image", "registry.example/basket:2", "--kubeconfig", kubeconfig,
		"--router", "ingress/" + name, "--pause", "10m", "--interval", "100ms", "--store", dsn}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled (exit 130)", err)
	}
	if !strings.Contains(out.String(), "interrupted at step 1/5 (weight 10%): traffic back to basket") || !strings.Contains(out.String(), "reverted: all traffic on basket") {
		t.Errorf("output lacks the interruption and the revert")
	}
	if w := weight(); w != "0" {
		t.Errorf("canary weight %q after the interruption, want 0", w)
	}
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), name+"-canary", metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		t.Errorf("canary %v (%v): want 0 replicas", d.Spec.Replicas, err)
	}
	if inc := oneIncident(t, dsn, "deploy/"+name); !strings.Contains(inc.Reason, "rollout interrupted at step 1/5, weight 10%") {
		t.Fatalf("incident %+v, want the interruption", inc)
	}
}

// oneIncident returns the one incident the store at dsn holds for workload, failing the test
// when there is not exactly one.
func oneIncident(t *testing.T, dsn, workload string) store.Incident {
	t.Helper()
	st, err := open.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.Incidents(context.Background(), store.IncidentFilter{Workload: workload})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents %v (%v), want one", incs, err)
	}
	return incs[0]
}

// TestRolloutPolicyGates: the policy's delivery.rollout section sets the steps, the pause,
// the interval and the Prometheus, and its own gate replaces the default ones.
func TestRolloutPolicyGates(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	kubeconfig := restrictedKubeconfig(t, c.Restricted(t, ns), ns)
	name := "orders"
	rolloutApp(t, c, ns, name, 2)
	canaryIngress(t, c, ns, name)
	var (
		mu      sync.Mutex
		queries []string
	)
	prom := promtest.Start(t, func(q string) promtest.Answer {
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		return promtest.Answer{Value: 0.01}
	})
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: plimsoll/v1
kind: Policy
delivery:
  rollout:
    steps: [50, 100]
    pause: 200ms
    interval: 100ms
    prometheus: `+prom.URL+`
    gates:
      - name: error-ratio
        query: 'orders_errors_ratio{namespace="{{.Namespace}}",deployment="{{.Canary}}"}'
        primaryQuery: 'orders_errors_ratio{namespace="{{.Namespace}}",deployment="{{.Primary}}"}'
        max: 0.02
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "rollout", "deploy/"+name, "--image", "registry.example/orders:2", "--kubeconfig", kubeconfig,
		"--router", "ingress/"+name, "--store", "none", "-p", policy)
	t.Logf("stdout:\n%s", out)
	if err != nil {
		t.Fatalf("rollout: %v", err)
	}
	for _, want := range []string{"steps [50 100], pause 200ms", "step 1/2 weight 50%", "error-ratio pass canary=0.01 primary=0.01 (<= 0.02)", "PROMOTED: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(queries, func(q string) bool {
		return strings.Contains(q, `orders_errors_ratio{namespace="`+ns+`",deployment="orders-canary"}`)
	}) {
		t.Errorf("queries %q: want the policy's, rendered", queries)
	}
	for _, q := range queries {
		if strings.Contains(q, "http_requests_total") {
			t.Errorf("a default gate ran beside the policy's: %s", q)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: plimsoll/v1\nkind: Policy\ndelivery:\n  rollout:\n    gates:\n      - name: g\n        query: 'x{{.Nope}}'\n        max: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(t, "rollout", "deploy/"+name, "--image", "x:3", "--kubeconfig", kubeconfig, "--router", "ingress/"+name, "-p", bad); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "delivery.rollout.gates[0].query") {
		t.Errorf("a policy gate with a bad query: %v, want the policy problem", err)
	}
}
