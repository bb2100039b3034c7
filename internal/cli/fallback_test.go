package cli

import (
	"context"
	"errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// fallbackCluster is a namespace of the test cluster that the command line works in with the
// shipped RBAC role.
type fallbackCluster struct {
	c              *kubetest.Cluster
	ns, kubeconfig string
}

func newFallbackCluster(t *testing.T) *fallbackCluster {
	t.Helper()
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	return &fallbackCluster{c: c, ns: ns, kubeconfig: restrictedKubeconfig(t, c.Restricted(t, ns), ns)}
}

func (f *fallbackCluster) rollout(t *testing.T, name, image string, args ...string) (string, error) {
	t.Helper()
	out, stderr, err := execute(t, append([]string{"rollout", "deploy/" + name, "--image", image, "--kubeconfig", f.kubeconfig,
		"--strategy", "bluegreen", "--pause", "200ms", "--interval", "100ms", "--store", "none"}, args...)...)
	t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr)
	return out, err
}

// greenImage is the image of the green (canary) Deployment.
func (f *fallbackCluster) greenImage(t *testing.T, name string) string {
	t.Helper()
	d, err := f.c.Client.AppsV1().Deployments(f.ns).Get(context.Background(), name+"-canary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func wantNoGo(t *testing.T, err error) {
	t.Helper()
	var d *DecisionError
	if !errors.As(err, &d) || d.Decision != verdict.NoGo {
		t.Fatalf("err = %v, want a NO-GO decision (exit 20)", err)
	}
}

func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// TestRolloutPullFallback: green's pods cannot pull their image (the test cluster's node
// refuses every image of the host unpullable.example); the same digest is in a mirror. Offered,
// the rollout aborts at once and names it; applied, green switches to it and the rollout goes on.
func TestRolloutPullFallback(t *testing.T) {
	mirror := signtest.StartRegistry(t, false)
	pushed := signtest.Push(t, mirror+"/shop/cart:2", signtest.RandomImage(t))
	want := mirror + "/shop/cart@" + pushed.Digest.String()
	image := "unpullable.example/shop/cart@" + pushed.Digest.String()
	f := newFallbackCluster(t)
	rolloutApp(t, f.c, f.ns, "cart", 2)

	out, err := f.rollout(t, "cart", image, "--mirror", "unpullable.example="+mirror)
	wantNoGo(t, err)
	wantLines(t, out, "ABORTED: canary cannot pull its image: image \""+image+"\" cannot be pulled: ImagePullBackOff",
		"fallback offered: "+want+" [mirror "+mirror, "rerun with --image "+want)

	out, err = f.rollout(t, "cart", image, "--mirror", "unpullable.example="+mirror, "--fallback", "apply")
	if err != nil {
		t.Fatalf("rollout --fallback apply: %v", err)
	}
	wantLines(t, out, "cannot be pulled (ImagePullBackOff): switched the canary to "+want+" [mirror "+mirror, "PROMOTED: service/cart now selects cart-canary ("+want+")")
	if got := f.greenImage(t, "cart"); got != want {
		t.Errorf("green runs %s, want the mirror's %s", got, want)
	}

	_, err = f.rollout(t, "cart", "", "--revert")
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	out, err = f.rollout(t, "cart", image, "--fallback", "apply")
	wantNoGo(t, err)
	wantLines(t, out, "no fallback image for "+image+": no mirror is configured for unpullable.example")
}

// TestRolloutSignatureFallback: the policy requires a key signature; the image at its
// registry has none, a mirror holds the same digest signed. Offered: NO-GO before anything
// changes; applied: the rollout deploys the mirror's copy, its signature verified there.
func TestRolloutSignatureFallback(t *testing.T) {
	origin, mirror := signtest.StartRegistry(t, false), signtest.StartRegistry(t, false)
	img := signtest.RandomImage(t)
	pushed := signtest.Push(t, origin+"/shop/shop:2", img)
	signtest.Push(t, mirror+"/shop/shop:2", img)
	signer := signtest.NewKeySigner(t)
	repo, err := name.NewRepository(mirror + "/shop/shop")
	if err != nil {
		t.Fatal(err)
	}
	signtest.SignClassic(t, repo, pushed.Digest, pushed.Digest, signer)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: plimsoll/v1\nkind: Policy\nharden:\n  signature:\n    required: true\n    key: "+signer.PubPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := origin + "/shop/shop@" + pushed.Digest.String()
	want := mirror + "/shop/shop@" + pushed.Digest.String()
	f := newFallbackCluster(t)
	rolloutApp(t, f.c, f.ns, "shop", 2)

	out, err := f.rollout(t, "shop", image, "-p", policy, "--mirror", origin+"="+mirror)
	wantNoGo(t, err)
	if !strings.Contains(err.Error(), "its signature does not verify") || !strings.Contains(err.Error(), "fallback offered: "+want) ||
		!strings.Contains(err.Error(), "signature: 1 of 1 signatures verify") {
		t.Errorf("error %q: want the failed signature and the verified offer", err)
	}
	if _, err := f.c.Client.AppsV1().Deployments(f.ns).Get(context.Background(), "shop-canary", metav1.GetOptions{}); err == nil {
		t.Errorf("a green Deployment was made for an image whose signature failed")
	}

	out, err = f.rollout(t, "shop", image, "-p", policy, "--mirror", origin+"="+mirror, "--fallback", "apply")
	if err != nil {
		t.Fatalf("rollout --fallback apply: %v", err)
	}
	wantLines(t, out, "its signature does not verify", "using "+want+" [mirror "+mirror+" (same digest); signature: 1 of 1 signatures verify with key", "PROMOTED: ")
	if got := f.greenImage(t, "shop"); got != want {
		t.Errorf("green runs %s, want the mirror's %s", got, want)
	}
}

// twoRevisions makes Deployment NAME at revision 1 with image first (which need not become
// Ready), then revision 2 with image second, Available.
func (f *fallbackCluster) twoRevisions(t *testing.T, name, first, second string) {
	t.Helper()
	ctx := context.Background()
	api := f.c.Client.AppsV1().Deployments(f.ns)
	one, labels := int32(1), map[string]string{"app": name}
	if _, err := api.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: first}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case d.Annotations[kube.RevisionAnnotation] == "1" && d.Spec.Template.Spec.Containers[0].Image == first:
			d.Spec.Template.Spec.Containers[0].Image = second
			// The controller may have written the Deployment since the Get: read it again.
			if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				t.Fatal(err)
			}
			continue
		case d.Annotations[kube.RevisionAnnotation] == "2" && d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 1 && d.Status.UpdatedReplicas == 1:
			return
		case time.Now().After(deadline):
			t.Fatalf("deployment %s did not reach revision 2: %+v", name, d.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRollbackPullFallback: the revision a rollback restores names an image the node cannot
// pull; the mirror has the digest. Offered: the rollback fails within seconds (exit 20) and
// names it; applied: the Deployment is rolled back onto the mirror's copy and verified.
func TestRollbackPullFallback(t *testing.T) {
	mirror := signtest.StartRegistry(t, false)
	pushed := signtest.Push(t, mirror+"/shop/api:1", signtest.RandomImage(t))
	want := mirror + "/shop/api@" + pushed.Digest.String()
	image := "unpullable.example/shop/api@" + pushed.Digest.String()
	f := newFallbackCluster(t)
	f.twoRevisions(t, "api", image, "registry.example/api:2")
	f.twoRevisions(t, "web", image, "registry.example/web:2")
	rollback := func(args ...string) (string, error) {
		out, stderr, err := execute(t, append([]string{"rollback", "--kubeconfig", f.kubeconfig, "--store", "none", "--incident-dir", "",
			"--timeout", "1m", "--mirror", "unpullable.example=" + mirror}, args...)...)
		t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr)
		return out, err
	}

	start := time.Now()
	out, err := rollback("deploy/api")
	wantNoGo(t, err)
	t.Logf("failed %s after the command began", time.Since(start).Round(time.Millisecond))
	wantLines(t, out, "deploy/api: FAILED: ", `image "`+image+`" cannot be pulled: ImagePullBackOff`,
		"fallback offered: "+want+" [mirror "+mirror+" (same digest)]; rerun with --fallback apply, or set the image to "+want+" yourself")

	out, err = rollback("deploy/web", "--fallback", "apply")
	if err != nil {
		t.Fatalf("rollback --fallback apply: %v", err)
	}
	wantLines(t, out, "deploy/web: rolled back from revision 2 (registry.example/web:2) to revision 1", "deploy/web: registry fallback: "+image+" → "+want)
	d, err := f.c.Client.AppsV1().Deployments(f.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != want || d.Annotations[kube.AnnotationFallbackImage] != want {
		t.Errorf("web runs %s (annotation %q), want the mirror's %s", got, d.Annotations[kube.AnnotationFallbackImage], want)
	}
}
