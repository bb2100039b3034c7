package kubetest

import (
	"context"
	"os"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
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
