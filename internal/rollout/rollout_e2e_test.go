package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	"github.com/plimsoll/plimsoll/internal/metrics"
	"github.com/plimsoll/plimsoll/internal/metrics/promtest"
	"github.com/plimsoll/plimsoll/internal/rollout"
	"github.com/plimsoll/plimsoll/internal/store"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

const (
	oldImage = "registry.example/shop/app:1.0"
	newImage = "registry.example/shop/app:1.1"
)

// env is one test's namespace: the admin client sets the stage and checks the outcome; the
// product code runs with the shipped RBAC role only.
type env struct {
	c          *kubetest.Cluster
	ns         string
	admin      kubernetes.Interface
	adminDyn   dynamic.Interface
	restricted *rest.Config
	client     kubernetes.Interface // restricted
	dyn        dynamic.Interface    // restricted
	// fallback is the registry fallback run gives the rollout (nil: none).
	fallback func(ctx context.Context, image string, failures []kube.PullFailure) (string, string)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := kubetest.Start(t)
	e := &env{c: c, ns: c.Namespace(t), admin: c.Client}
	var err error
	if e.adminDyn, err = dynamic.NewForConfig(c.Config); err != nil {
		t.Fatal(err)
	}
	e.restricted = rest.CopyConfig(c.Restricted(t, e.ns))
	e.restricted.QPS, e.restricted.Burst = 50, 100 // as the command line sets them
	if e.client, err = kubernetes.NewForConfig(e.restricted); err != nil {
		t.Fatal(err)
	}
	if e.dyn, err = dynamic.NewForConfig(e.restricted); err != nil {
		t.Fatal(err)
	}
	return e
}

var crdOnce sync.Once

// installHTTPRouteCRD installs the Gateway API's standard HTTPRoute CRD (v1.4.1) as the
// cluster's admin, once per test binary.
func installHTTPRouteCRD(t *testing.T, c *kubetest.Cluster) {
	crdOnce.Do(func() {
		// create, not apply: the CRD is too large for the last-applied annotation
		c.Kubectl(t, "create", "-f", filepath.Join("testdata", "gateway.networking.k8s.io_httproutes.yaml"))
		c.Kubectl(t, "wait", "--for", "condition=Established", "--timeout", "60s", "crd/httproutes.gateway.networking.k8s.io")
	})
}

// app creates Deployment and Service NAME (replicas pods of oldImage) as the admin.
func (e *env) app(t *testing.T, name string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: oldImage, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			},
		},
	}
	if _, err := e.admin.AppsV1().Deployments(e.ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := e.admin.CoreV1().Services(e.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitFor(wctx, func() (bool, error) {
		d, err := e.admin.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas && d.Status.ObservedGeneration == d.Generation, err
	}); err != nil {
		t.Fatalf("deployment %s not ready: %v", name, err)
	}
}

func waitFor(ctx context.Context, f func() (bool, error)) error {
	for {
		ok, err := f()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// httpRoute creates HTTPRoute NAME sending everything to Service NAME, as the admin.
func (e *env) httpRoute(t *testing.T, name string) {
	t.Helper()
	installHTTPRouteCRD(t, e.c)
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gateway"}},
			"hostnames":  []any{name + ".example"},
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
				"backendRefs": []any{map[string]any{"name": name, "port": int64(80)}},
			}},
		},
	}}
	if _, err := e.adminDyn.Resource(rollout.HTTPRouteGVR).Namespace(e.ns).Create(context.Background(), route, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// ingress creates Ingress NAME (class nginx) sending everything to Service NAME, as the admin.
func (e *env) ingress(t *testing.T, name string) {
	t.Helper()
	class := "nginx"
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{
			Host: name + ".example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
	if _, err := e.admin.NetworkingV1().Ingresses(e.ns).Create(context.Background(), ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// routerFor builds the product's router of kind for app NAME with the restricted clients,
// and an admin-side reader of the weight on the API server.
func (e *env) routerFor(t *testing.T, kind, name string) (rollout.Router, rollout.Router) {
	t.Helper()
	switch kind {
	case "httproute":
		e.httpRoute(t, name)
		return &rollout.HTTPRoute{Dynamic: e.dyn, Client: e.client, Namespace: e.ns, Name: name},
			&rollout.HTTPRoute{Dynamic: e.adminDyn, Client: e.admin, Namespace: e.ns, Name: name}
	case "ingress":
		e.ingress(t, name)
		return &rollout.NginxIngress{Client: e.client, Namespace: e.ns, Name: name},
			&rollout.NginxIngress{Client: e.admin, Namespace: e.ns, Name: name}
	case "service":
		return &rollout.ServiceSelector{Client: e.client, Namespace: e.ns, Name: name},
			&rollout.ServiceSelector{Client: e.admin, Namespace: e.ns, Name: name}
	}
	t.Fatalf("no router %q", kind)
	return nil, nil
}

// degradingProm is a Prometheus whose canary success rate drops to 0.90 once the canary's
// weight on the API server reaches degradeAt (never, when degradeAt is 0). It notes when it
// first served the bad value.
type degradingProm struct {
	*promtest.Server
	firstBad atomic.Int64 // unix nanoseconds
}

// defaultGates are the default metric gates on the Prometheus at url.
func defaultGates(t *testing.T, url string) []metrics.Gate {
	t.Helper()
	p, err := metrics.NewPrometheus(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	gates, err := metrics.DefaultGates(p)
	if err != nil {
		t.Fatal(err)
	}
	return gates
}

func startProm(t *testing.T, admin rollout.Router, degradeAt int) *degradingProm {
	p := &degradingProm{}
	p.Server = promtest.Start(t, func(q string) promtest.Answer {
		if strings.Contains(q, "histogram_quantile") {
			return promtest.Answer{Value: 0.120}
		}
		if !strings.Contains(q, "-canary-") {
			return promtest.Answer{Value: 0.999}
		}
		w, err := admin.Weight(context.Background())
		if err != nil {
			return promtest.Answer{Error: err.Error()}
		}
		if degradeAt > 0 && w >= degradeAt {
			p.firstBad.CompareAndSwap(0, time.Now().UnixNano())
			return promtest.Answer{Value: 0.90}
		}
		return promtest.Answer{Value: 0.999}
	})
	return p
}

// run drives a rollout of app NAME to image with the restricted clients and returns how
// it ended, the progress printed, and when the admin side saw the canary weight reach 0
// after the bad value was served.
type outcome struct {
	res      rollout.Result
	err      error
	progress []rollout.Tick
}

func (e *env) run(t *testing.T, name, image string, plan rollout.Plan, router rollout.Router, gates, pre []metrics.Gate, s *rollout.State) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wl := &rollout.Deployments{Client: e.client, Namespace: e.ns, Name: name}
	var o outcome
	d := rollout.Deps{
		Workload: wl, Router: router, Gates: gates, PreSwitch: pre,
		Target:   metrics.Target{Namespace: e.ns, Canary: wl.CanaryName(), Primary: name},
		Incident: store.Incident{Namespace: e.ns, Workload: "deploy/" + name, FromImage: image, ToImage: oldImage},
		Fallback: e.fallback,
		Progress: func(tk rollout.Tick) {
			o.progress = append(o.progress, tk)
			t.Logf("%s %s step %d weight %d %v %v", tk.Time.Format("15:04:05.000"), tk.State.Phase, tk.State.Step, tk.State.Weight, tk.Actions, tk.Gates)
		},
	}
	state := rollout.Start(plan)
	if s != nil {
		state = *s
	} else {
		info, err := rollout.Begin(ctx, d, image)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		if info.Image != oldImage || info.Replicas != plan.Replicas {
			t.Fatalf("primary %+v", info)
		}
	}
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	o.res, o.err = rollout.Run(ctx, ticker.C, d, state)
	return o
}

func canaryPlan() rollout.Plan {
	return rollout.Plan{Strategy: rollout.Canary, Steps: rollout.DefaultSteps, Pause: 300 * time.Millisecond,
		Replicas: 4, ReadyTimeout: 30 * time.Second, MaxInconclusive: 3}
}

func (e *env) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.admin.AppsV1().Deployments(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func weights(ticks []rollout.Tick) []int {
	var ws []int
	for _, tk := range ticks {
		for _, a := range tk.Actions {
			if a.Kind == rollout.SetWeight {
				ws = append(ws, a.Weight)
			}
		}
	}
	return ws
}

func TestCanaryPromoted(t *testing.T) {
	e := newEnv(t)
	for _, kind := range []string{"httproute", "ingress"} {
		t.Run(kind, func(t *testing.T) {
			name := "promo-" + kind
			e.app(t, name, 4)
			router, admin := e.routerFor(t, kind, name)
			prom := startProm(t, admin, 0)
			gates := defaultGates(t, prom.URL)
			o := e.run(t, name, newImage, canaryPlan(), router, gates, nil, nil)
			if o.err != nil {
				t.Fatalf("Run: %v (state %+v)", o.err, o.res.State)
			}
			if got, want := weights(o.progress), []int{10, 25, 50, 75, 100, 0}; !slices.Equal(got, want) {
				t.Errorf("weights set %v, want %v", got, want)
			}
			primary := e.deployment(t, name)
			if img := primary.Spec.Template.Spec.Containers[0].Image; img != newImage {
				t.Errorf("primary runs %s, want %s", img, newImage)
			}
			if primary.Spec.Template.Labels["app"] != name {
				t.Errorf("primary pod labels changed: %v", primary.Spec.Template.Labels)
			}
			if c := e.deployment(t, name+rollout.CanarySuffix); *c.Spec.Replicas != 0 {
				t.Errorf("canary left at %d replicas", *c.Spec.Replicas)
			}
			if w, err := admin.Weight(context.Background()); err != nil || w != 0 {
				t.Errorf("weight on the API server %d (%v), want 0", w, err)
			}
			if o.res.Incident != nil {
				t.Errorf("incident recorded for a promotion: %+v", o.res.Incident)
			}
			// the canary's Service selects only canary pods
			cs, err := e.admin.CoreV1().Services(e.ns).Get(context.Background(), name+rollout.CanarySuffix, metav1.GetOptions{})
			if err != nil || cs.Spec.Selector["app"] != name+rollout.CanarySuffix {
				t.Errorf("canary service %v (%v)", cs, err)
			}
		})
	}
}

// watchWeightZero returns a function giving the time at which admin first read weight 0
// after the bad value was served; it polls the API server every 2 ms.
func watchWeightZero(ctx context.Context, admin rollout.Router, prom *degradingProm) func() time.Time {
	var seen atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if prom.firstBad.Load() != 0 {
				if w, err := admin.Weight(ctx); err == nil && w == 0 {
					seen.Store(time.Now().UnixNano())
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() time.Time { <-done; return time.Unix(0, seen.Load()) }
}

func TestCanaryDegradedAborts(t *testing.T) {
	e := newEnv(t)
	runs := 5
	if testing.Short() {
		runs = 1
	}
	for _, kind := range []string{"httproute", "ingress"} {
		t.Run(kind, func(t *testing.T) {
			var driver, apiSeen []time.Duration
			for i := range runs {
				name := fmt.Sprintf("bad-%s-%d", kind, i)
				e.app(t, name, 4)
				router, admin := e.routerFor(t, kind, name)
				prom := startProm(t, admin, 25)
				gates := defaultGates(t, prom.URL)
				ctx, cancel := context.WithCancel(context.Background())
				seen := watchWeightZero(ctx, admin, prom)
				o := e.run(t, name, newImage, canaryPlan(), router, gates, nil, nil)
				cancel()
				if !errors.Is(o.err, rollout.ErrAborted) {
					t.Fatalf("Run: %v, want ErrAborted", o.err)
				}
				if !strings.Contains(o.res.State.Reason, "at 25%: success-rate fail canary=0.9") {
					t.Fatalf("reason %q", o.res.State.Reason)
				}
				// weight 0 first, then the canary to 0: the order of the actions applied
				if got, want := weights(o.progress), []int{10, 25, 0}; !slices.Equal(got, want) {
					t.Errorf("weights set %v, want %v", got, want)
				}
				if w, err := admin.Weight(context.Background()); err != nil || w != 0 {
					t.Errorf("weight on the API server %d (%v), want 0", w, err)
				}
				if c := e.deployment(t, name+rollout.CanarySuffix); *c.Spec.Replicas != 0 {
					t.Errorf("canary left at %d replicas", *c.Spec.Replicas)
				}
				if img := e.deployment(t, name).Spec.Template.Spec.Containers[0].Image; img != oldImage {
					t.Errorf("primary runs %s, want %s", img, oldImage)
				}
				inc := o.res.Incident
				if inc == nil || inc.Kind != store.IncidentAbortedRollout || len(inc.Timeline) < 3 {
					t.Fatalf("incident %+v", inc)
				}
				var tl []string
				for _, ev := range inc.Timeline {
					tl = append(tl, ev.What)
				}
				if !slices.Contains(tl, "applied SetWeight(0)") || slices.Index(tl, "applied SetWeight(0)") > slices.Index(tl, "applied ScaleCanary(0)") {
					t.Errorf("timeline %q: want SetWeight(0) applied before ScaleCanary(0)", tl)
				}
				bad := time.Unix(0, prom.firstBad.Load())
				driver = append(driver, o.res.BreachToWeightZero)
				apiSeen = append(apiSeen, seen().Sub(bad))
			}
			t.Logf("%s: breach observed → weight 0 applied (driver): %s", kind, stats(driver))
			t.Logf("%s: bad value served → weight 0 read back from the API server: %s", kind, stats(apiSeen))
		})
	}
}

func stats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(100*time.Microsecond).String())
	}
	return fmt.Sprintf("n=%d min %s median %s max %s [%s]", len(s), s[0].Round(100*time.Microsecond), s[len(s)/2].Round(100*time.Microsecond), s[len(s)-1].Round(100*time.Microsecond), strings.Join(parts, " "))
}

func TestCanaryBrokenImageAborts(t *testing.T) {
	e := newEnv(t)
	name := "broken"
	e.app(t, name, 2)
	router, admin := e.routerFor(t, "ingress", name)
	plan := canaryPlan()
	plan.Replicas, plan.ReadyTimeout = 2, 3*time.Second
	o := e.run(t, name, "registry.example/shop/app:broken", plan, router, nil, nil, nil)
	if !errors.Is(o.err, rollout.ErrAborted) || !strings.Contains(o.res.State.Reason, "not Ready") {
		t.Fatalf("Run: %v (%q), want an abort for a canary that is never Ready", o.err, o.res.State.Reason)
	}
	if w, _ := admin.Weight(context.Background()); w != 0 {
		t.Errorf("weight %d: a canary that never was Ready got traffic", w)
	}
	if got := weights(o.progress); !slices.Equal(got, []int{0}) {
		t.Errorf("weights set %v, want only the abort's 0", got)
	}
}

// TestCanaryUnpullableImage: the canary's pods cannot pull their image (the test node refuses
// the host unpullable.example). Without a fallback the rollout aborts as soon as the kubelet
// says so, long before the ready timeout; with one, the canary switches image and is promoted.
func TestCanaryUnpullableImage(t *testing.T) {
	e := newEnv(t)
	name := "pull"
	e.app(t, name, 2)
	router, admin := e.routerFor(t, "ingress", name)
	plan := canaryPlan()
	plan.Replicas = 2 // ReadyTimeout stays 30 s: an abort must come from the pull failure
	const unpullable = "unpullable.example/shop/app:1.1"
	start := time.Now()
	o := e.run(t, name, unpullable, plan, router, nil, nil, nil)
	if !errors.Is(o.err, rollout.ErrAborted) || !strings.Contains(o.res.State.Reason, `image "`+unpullable+`" cannot be pulled: ImagePullBackOff`) {
		t.Fatalf("Run: %v (%q), want an abort for the pull failure", o.err, o.res.State.Reason)
	}
	t.Logf("aborted %s after the rollout began: %s", time.Since(start).Round(time.Millisecond), o.res.State.Reason)
	if w, _ := admin.Weight(context.Background()); w != 0 {
		t.Errorf("weight %d after the abort", w)
	}

	var asked []string
	e.fallback = func(_ context.Context, image string, failures []kube.PullFailure) (string, string) {
		asked = append(asked, image+" "+failures[0].Reason)
		return newImage, "mirror (same digest)"
	}
	o = e.run(t, name, unpullable, plan, router, nil, nil, nil)
	if o.err != nil {
		t.Fatalf("Run with a fallback: %v (%q)", o.err, o.res.State.Reason)
	}
	if !slices.Equal(asked, []string{unpullable + " ImagePullBackOff"}) {
		t.Errorf("fallback asked %v", asked)
	}
	if img := e.deployment(t, name).Spec.Template.Spec.Containers[0].Image; img != newImage {
		t.Errorf("the primary runs %s after the promotion, want the fallback %s", img, newImage)
	}
}

func TestBlueGreen(t *testing.T) {
	e := newEnv(t)
	bg := rollout.Plan{Strategy: rollout.BlueGreen, Steps: []int{0, 100}, Pause: 300 * time.Millisecond,
		Replicas: 3, ReadyTimeout: 30 * time.Second, MaxInconclusive: 3}

	t.Run("switch and revert", func(t *testing.T) {
		name := "bg"
		e.app(t, name, 3)
		router, admin := e.routerFor(t, "service", name)
		var calls atomic.Int32
		hook := startWebhook(t, &calls)
		wh, err := metrics.NewWebhook("acceptance", hook, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := e.run(t, name, newImage, bg, router, []metrics.Gate{wh}, []metrics.Gate{wh}, nil)
		if o.err != nil {
			t.Fatalf("Run: %v", o.err)
		}
		if calls.Load() == 0 {
			t.Error("the acceptance webhook was never called")
		}
		svc, err := e.admin.CoreV1().Services(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || svc.Spec.Selector["app"] != name+rollout.CanarySuffix {
			t.Fatalf("service selects %v after the switch (%v), want green", svc.Spec.Selector, err)
		}
		blue := e.deployment(t, name)
		if *blue.Spec.Replicas != 3 || blue.Status.ReadyReplicas != 3 || blue.Spec.Template.Spec.Containers[0].Image != oldImage {
			t.Fatalf("blue not kept for revert: %d replicas, %d ready, %s", *blue.Spec.Replicas, blue.Status.ReadyReplicas, blue.Spec.Template.Spec.Containers[0].Image)
		}
		// a new rollout refuses while green is live
		if _, err := rollout.Begin(context.Background(), rollout.Deps{Workload: &rollout.Deployments{Client: e.client, Namespace: e.ns, Name: name}, Router: router}, "x:3"); !errors.Is(err, rollout.ErrInProgress) {
			t.Fatalf("Begin while green is live: %v, want ErrInProgress", err)
		}

		start := time.Now()
		rev := rollout.Revert(bg, "revert requested")
		o = e.run(t, name, newImage, bg, router, nil, nil, &rev)
		took := time.Since(start)
		if !errors.Is(o.err, rollout.ErrAborted) || o.res.State.Phase != rollout.Aborted {
			t.Fatalf("revert: %v, %s", o.err, o.res.State.Phase)
		}
		if w, _ := admin.Weight(context.Background()); w != 0 {
			t.Fatalf("weight %d after the revert", w)
		}
		if g := e.deployment(t, name+rollout.CanarySuffix); *g.Spec.Replicas != 0 {
			t.Fatalf("green at %d replicas after the revert", *g.Spec.Replicas)
		}
		t.Logf("revert (switch back + green to 0) took %s", took.Round(time.Millisecond))
	})

	t.Run("breach after the switch switches back", func(t *testing.T) {
		name := "bgbad"
		e.app(t, name, 3)
		router, admin := e.routerFor(t, "service", name)
		prom := startProm(t, admin, 100)
		gates := defaultGates(t, prom.URL)
		o := e.run(t, name, newImage, bg, router, gates, nil, nil)
		if !errors.Is(o.err, rollout.ErrAborted) || !strings.Contains(o.res.State.Reason, "at 100%") {
			t.Fatalf("Run: %v (%q)", o.err, o.res.State.Reason)
		}
		if got, want := weights(o.progress), []int{0, 100, 0}; !slices.Equal(got, want) {
			t.Errorf("weights set %v, want %v", got, want)
		}
		svc, err := e.admin.CoreV1().Services(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || svc.Spec.Selector["app"] != name {
			t.Fatalf("service selects %v (%v), want blue", svc.Spec.Selector, err)
		}
		t.Logf("blue/green breach → selector back on blue: %s", o.res.BreachToWeightZero)
	})
}
