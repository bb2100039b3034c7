package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestCluster(t *testing.T) {
	c := Start(t)
	t.Logf("cluster ready in %s (state in %s)", c.StartTime, c.Dir)
	ctx := context.Background()
	if out := c.Kubectl(t, "get", "nodes", "-o", "name"); strings.TrimSpace(out) != "node/"+NodeName {
		t.Errorf("kubectl get nodes = %q", out)
	}
	if v := c.Kubectl(t, "version", "-o", "json"); !strings.Contains(v, `"gitVersion": "`+k8sVersion+`"`) {
		t.Errorf("server is not %s:\n%s", k8sVersion, v)
	}
	ns := c.Namespace(t)
	if _, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	other := c.Namespace(t)
	rc, err := kubernetes.NewForConfig(c.Restricted(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns, verb, group, resource string
		want                      bool
	}{
		{ns, "patch", "apps", "deployments", true},
		{ns, "watch", "apps", "deployments", true},
		{ns, "list", "apps", "replicasets", true},
		{ns, "list", "", "pods", true},
		{ns, "create", "", "events", true},
		{ns, "patch", "networking.k8s.io", "ingresses", true},
		{ns, "patch", "gateway.networking.k8s.io", "httproutes", true},
		{"", "list", "", "nodes", true},
		{ns, "delete", "apps", "deployments", false},
		{ns, "get", "", "secrets", true}, // Helm keeps its releases in the namespace's Secrets
		{other, "get", "", "secrets", false},
		{ns, "delete", "", "pods", false},
		{ns, "create", "", "pods/exec", false},
		{ns, "get", "", "pods/log", false},
		{other, "patch", "apps", "deployments", false},
		{other, "list", "", "pods", true}, // preflight's capacity counts every pod's requests
		{other, "delete", "", "pods", false},
		{"", "delete", "", "nodes", false},
	} {
		r, err := rc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tc.ns, Verb: tc.verb, Group: tc.group, Resource: tc.resource}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != tc.want {
			t.Errorf("restricted %s %s.%s in %q: allowed=%v, want %v", tc.verb, tc.resource, tc.group, tc.ns, r.Status.Allowed, tc.want)
		}
	}
	// and the API agrees with the reviews
	if _, err := rc.CoreV1().Secrets(other).List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the restricted client may list secrets of another namespace")
	}
	if _, err := rc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the restricted client may not list deployments in its namespace: %v", err)
	}
}

// TestUnpullableImage: a pod whose image host is "unpullable." waits in ImagePullBackOff
// and stays Pending; a pod beside it with a normal image becomes Ready.
func TestUnpullableImage(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const bad = "unpullable.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pods := map[string][]corev1.Container{
		"good":  {{Name: "app", Image: "example/app:1"}},
		"bad":   {{Name: "app", Image: bad}},
		"mixed": {{Name: "app", Image: "example/app:1"}, {Name: "side", Image: "unpullable.example/side:1"}},
	}
	for name, ctrs := range pods {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: ctrs}}
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitPod(ctx, t, c, ns, "good", func(p *corev1.Pod) error {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("not Ready: phase %s", p.Status.Phase)
	})
	backOff := func(ctr, image string) func(*corev1.Pod) error {
		return func(p *corev1.Pod) error {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name != ctr {
					continue
				}
				w := cs.State.Waiting
				if w == nil || w.Reason != "ImagePullBackOff" {
					return fmt.Errorf("container %s: state %+v", ctr, cs.State)
				}
				if want := fmt.Sprintf("Back-off pulling image %q", image); w.Message != want || cs.Ready || cs.Image != image {
					return fmt.Errorf("container %s: message %q (want %q), ready %v, image %s", ctr, w.Message, want, cs.Ready, cs.Image)
				}
				return nil
			}
			return fmt.Errorf("no status for container %s: phase %s", ctr, p.Status.Phase)
		}
	}
	waitPod(ctx, t, c, ns, "bad", backOff("app", bad))
	waitPod(ctx, t, c, ns, "mixed", backOff("side", "unpullable.example/side:1"))
	// a kubelet keeps backing off: the pods never become Ready nor Running
	time.Sleep(2 * time.Second)
	for _, name := range []string{"bad", "mixed"} {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase != corev1.PodPending {
			t.Errorf("pod %s: phase %s, want Pending", name, p.Status.Phase)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
				t.Errorf("pod %s: Ready %s", name, cond.Status)
			}
		}
	}
}

func waitPod(ctx context.Context, t *testing.T, c *Cluster, ns, name string, ok func(*corev1.Pod) error) {
	t.Helper()
	var last error
	for {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if last = ok(p); last == nil {
				return
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s: %v", name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestWithUnpullable(t *testing.T) {
	cached := []byte("name: pod-ready\n    - key: '.spec.containers.[] | select( .image | test(\":broken$\") ) | .name'\n")
	got, err := withUnpullable(cached)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(`test(":broken$|^unpullable[.]")`)) || bytes.Contains(got, []byte(`test(":broken$")`)) ||
		!bytes.Contains(got, []byte("---\n"+string(unpullableStage))) {
		t.Errorf("rewritten stages:\n%s", got)
	}
	for _, bad := range []string{"", "no exclusion here", string(cached) + string(cached)} {
		if _, err := withUnpullable([]byte(bad)); err == nil || !strings.Contains(err.Error(), `test(":broken$")`) {
			t.Errorf("withUnpullable(%q): %v, want an error naming the expected text", bad, err)
		}
	}
}
