package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/kube/kubetest"
	plstore "github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
)

func TestMain(m *testing.M) {
	code := kubetest.Main(m)
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// env is one test's namespace on the shared cluster: an admin client for the setup and a
// client bound only to the shipped RBAC for the product calls.
type env struct {
	c          *kubetest.Cluster
	ns         string
	admin      kubernetes.Interface
	restricted kubernetes.Interface
	kubeconfig string // the restricted client's, for the binary
}

func newEnv(t *testing.T) *env {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	cfg := c.Restricted(t, ns)
	rc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{c: c, ns: ns, admin: c.Client, restricted: rc, kubeconfig: c.KubeconfigFile(t, cfg, ns)}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// deploy creates Deployment name (3 replicas, surge 1, unavailable 0) running image and
// waits for it.
func (e *env) deploy(t *testing.T, name, image string, pds int32, templateAnnotations map[string]string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr(int32(3)),
			ProgressDeadlineSeconds: ptr(pds),
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr(intstr.FromInt32(1)), MaxUnavailable: ptr(intstr.FromInt32(0))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: templateAnnotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
	if _, err := e.admin.AppsV1().Deployments(e.ns).Create(ctxT(t, time.Minute), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.wait(t, name)
}

func (e *env) wait(t *testing.T, name string) {
	t.Helper()
	if _, err := kube.WaitForRollout(ctxT(t, 2*time.Minute), e.admin, e.ns, name, time.Time{}, nil); err != nil {
		t.Fatalf("rollout of %s: %v", name, err)
	}
}

// release sets the image (and the migration annotation when not "") and, unless nowait,
// waits for the rollout.
func (e *env) release(t *testing.T, name, image, migration string, wait bool) {
	t.Helper()
	tmpl := map[string]any{"spec": map[string]any{"containers": []map[string]string{{"name": "app", "image": image}}}}
	if migration != "" {
		tmpl["metadata"] = map[string]any{"annotations": map[string]string{kube.MigrationAnnotation: migration}}
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if _, err := e.admin.AppsV1().Deployments(e.ns).Patch(ctxT(t, time.Minute), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if wait {
		e.wait(t, name)
	}
}

func (e *env) get(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.admin.AppsV1().Deployments(e.ns).Get(ctxT(t, time.Minute), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// kubectlImage and kubectlRevisions are what kubectl says about the Deployment.
func (e *env) kubectlImage(t *testing.T, name string) string {
	return e.c.Kubectl(t, "-n", e.ns, "get", "deploy/"+name, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
}

func (e *env) kubectlRevisions(t *testing.T, name string) []int {
	var revs []int
	for _, line := range strings.Split(e.c.Kubectl(t, "-n", e.ns, "rollout", "history", "deploy/"+name), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				revs = append(revs, n)
			}
		}
	}
	sort.Ints(revs)
	return revs
}

func ptr[T any](v T) *T { return &v }

// TestUndoLikeKubectl rolls back one Deployment with Rollback (restricted client) and its twin
// with `kubectl rollout undo`, and compares what kubectl then shows of both.
func TestUndoLikeKubectl(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"app", "twin"} {
		e.deploy(t, n, "example/app:1.0.0", 600, nil)
		e.release(t, n, "example/app:1.1.0", "", true)
		e.release(t, n, "example/app:1.2.0", "", true)
	}
	ctx := ctxT(t, 2*time.Minute)
	for _, step := range []struct {
		to        int64
		wantImage string
	}{{0, "example/app:1.1.0"}, {1, "example/app:1.0.0"}, {0, "example/app:1.1.0"}} {
		res, err := kube.Rollback(ctx, e.restricted, e.ns, "app", kube.RollbackOptions{ToRevision: step.to, Reason: "test", By: "tester"})
		if err != nil {
			t.Fatalf("Rollback to %d: %v", step.to, err)
		}
		args := []string{"-n", e.ns, "rollout", "undo", "deploy/twin"}
		if step.to > 0 {
			args = append(args, "--to-revision", strconv.FormatInt(step.to, 10))
		}
		e.c.Kubectl(t, args...)
		e.c.Kubectl(t, "-n", e.ns, "rollout", "status", "deploy/twin", "--timeout", "60s")
		if got, twin := e.kubectlImage(t, "app"), e.kubectlImage(t, "twin"); got != step.wantImage || twin != step.wantImage {
			t.Errorf("to %d: kubectl shows app %s, twin %s; want %s", step.to, got, twin, step.wantImage)
		}
		if got, twin := e.kubectlRevisions(t, "app"), e.kubectlRevisions(t, "twin"); !slices.Equal(got, twin) {
			t.Errorf("to %d: rollout history of app %v, of twin (kubectl undo) %v", step.to, got, twin)
		}
		if res.To.Image() != step.wantImage || res.ReadyPods != 3 || res.NewRevision != int64(e.kubectlRevisions(t, "app")[2]) {
			t.Errorf("to %d: result %+v", step.to, res)
		}
		t.Logf("rolled back from %d to %d (now %d): Available after %s, %d attempt(s)", res.From.Number, res.To.Number, res.NewRevision, res.Available, res.Attempts)
	}
	a := e.get(t, "app").Annotations
	if a[kube.AnnotationRolledBackTo] != "4" || a[kube.AnnotationBy] != "tester" || a[kube.AnnotationReason] != "test" {
		t.Errorf("audit annotations: %v", a)
	}
	if _, err := kube.Rollback(ctx, e.restricted, e.ns, "app", kube.RollbackOptions{ToRevision: 42}); !errors.Is(err, kube.ErrRevisionNotFound) ||
		!strings.Contains(err.Error(), "unable to find specified revision 42 in history") {
		t.Errorf("unknown revision: %v", err)
	}
	ev, err := e.admin.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=PlimsollRollback"})
	if err != nil || len(ev.Items) != 3 {
		t.Errorf("rollback events: %d, %v", len(ev.Items), err)
	}
}

// TestBrokenRelease: a release that never becomes Ready exceeds its progress deadline; the
// wait says so, the rollback recovers although the deadline condition is still set, and a
// rollback to the broken revision fails with the deadline.
func TestBrokenRelease(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:1.0.0", 5, nil)
	e.release(t, "app", "example/app:broken", "", false)
	t0 := time.Now()
	_, err := kube.WaitForRollout(ctxT(t, time.Minute), e.restricted, e.ns, "app", time.Time{}, nil)
	if !errors.Is(err, kube.ErrProgressDeadline) {
		t.Fatalf("wait for the broken release: %v, want the progress deadline", err)
	}
	t.Logf("progress deadline (5 s) detected after %s", time.Since(t0).Round(time.Millisecond))
	res, err := kube.Rollback(ctxT(t, time.Minute), e.restricted, e.ns, "app", kube.RollbackOptions{Reason: "broken"})
	if err != nil {
		t.Fatalf("rollback from the broken release: %v", err)
	}
	if e.kubectlImage(t, "app") != "example/app:1.0.0" || res.ReadyPods != 3 {
		t.Errorf("after rollback: %s, %+v", e.kubectlImage(t, "app"), res)
	}
	t.Logf("rolled back from the broken release: Available after %s", res.Available)
	res, err = kube.Rollback(ctxT(t, time.Minute), e.restricted, e.ns, "app", kube.RollbackOptions{ToRevision: 2})
	if !errors.Is(err, kube.ErrProgressDeadline) || !res.Applied {
		t.Errorf("rollback to the broken revision: %v (%+v), want the progress deadline", err, res)
	}
}

func TestMigrationGuard(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:1.0.0", 600, nil)
	e.release(t, "app", "example/app:2.0.0", "2026_11_add_orders_idx", true)
	e.release(t, "app", "example/app:2.0.1", "2026_11_add_orders_idx", true)
	ctx := ctxT(t, 2*time.Minute)
	// 2.0.1 back to 2.0.0: both carry the migration, allowed.
	if _, err := kube.Rollback(ctx, e.restricted, e.ns, "app", kube.RollbackOptions{}); err != nil {
		t.Fatalf("rollback within the migration: %v", err)
	}
	// The controller may still write the status; a refusal must leave spec and metadata alone.
	before := e.get(t, "app")
	_, err := kube.Rollback(ctx, e.restricted, e.ns, "app", kube.RollbackOptions{ToRevision: 1})
	if !errors.Is(err, kube.ErrMigrationGuard) {
		t.Fatalf("rollback past the migration: %v, want the migration guard", err)
	}
	for _, want := range []string{`"2026_11_add_orders_idx"`, "revision 1", "revision 3", "revision 4", "--force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %s: %v", want, err)
		}
	}
	e.unchanged(t, "the refused rollback", before)
	res, err := kube.Rollback(ctx, e.restricted, e.ns, "app", kube.RollbackOptions{ToRevision: 1, Force: true})
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if e.kubectlImage(t, "app") != "example/app:1.0.0" || len(res.Forced) == 0 {
		t.Errorf("forced rollback: image %s, forced %v", e.kubectlImage(t, "app"), res.Forced)
	}
}

// TestConcurrentUpdate races a writer patching the Deployment against the rollback: both
// writes land, none half.
func TestConcurrentUpdate(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:1.0.0", 600, nil)
	e.release(t, "app", "example/app:2.0.0", "", true)
	var (
		stop    atomic.Bool
		last    atomic.Int64
		writes  atomic.Int64
		wg      sync.WaitGroup
		started = make(chan struct{})
	)
	wg.Go(func() {
		for i := int64(1); !stop.Load(); i++ {
			p := fmt.Sprintf(`{"metadata":{"labels":{"racer":"%d"}},"spec":{"minReadySeconds":0}}`, i)
			if _, err := e.admin.AppsV1().Deployments(e.ns).Patch(context.Background(), "app", types.MergePatchType, []byte(p), metav1.PatchOptions{}); err == nil {
				last.Store(i)
				if writes.Add(1) == 5 {
					close(started)
				}
			}
			time.Sleep(5 * time.Millisecond) // a hot writer (up to 200 writes/s), not a lock-out
		}
	})
	<-started
	res, err := kube.Rollback(ctxT(t, 2*time.Minute), e.restricted, e.ns, "app", kube.RollbackOptions{})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("rollback while racing: %v", err)
	}
	d := e.get(t, "app")
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "example/app:1.0.0" {
		t.Errorf("image %s after the race", img)
	}
	if d.Labels["racer"] != strconv.FormatInt(last.Load(), 10) {
		t.Errorf("the racer's last write (%d) was lost: %v", last.Load(), d.Labels)
	}
	t.Logf("rollback converged after %d attempt(s) against %d concurrent writes", res.Attempts, writes.Load())
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:1.0.0", 600, nil)
	e.release(t, "app", "example/app:2.0.0", "", true)
	before := e.get(t, "app")
	res, err := kube.Rollback(ctxT(t, time.Minute), e.restricted, e.ns, "app", kube.RollbackOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Message, "would roll back from revision 2 (example/app:2.0.0) to revision 1 (example/app:1.0.0)") {
		t.Errorf("message: %s", res.Message)
	}
	time.Sleep(time.Second) // a change would have been seen by the controller by now
	e.unchanged(t, "the dry run", before)
	if img := e.kubectlImage(t, "app"); img != "example/app:2.0.0" {
		t.Errorf("after the dry run the image is %s", img)
	}
}

// unchanged fails the test when the spec or metadata of the Deployment before changed (its
// status may: the controller keeps writing it).
func (e *env) unchanged(t *testing.T, what string, before *appsv1.Deployment) {
	t.Helper()
	after := e.get(t, before.Name)
	if after.Generation != before.Generation || !reflect.DeepEqual(after.Annotations, before.Annotations) ||
		!reflect.DeepEqual(after.Spec, before.Spec) {
		t.Errorf("%s changed the Deployment: generation %d -> %d, annotations %v -> %v",
			what, before.Generation, after.Generation, before.Annotations, after.Annotations)
	}
}

// TestRollbackTime measures the time from the rollback call to the previous revision being
// Available, over several rounds.
func TestRollbackTime(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:0", 600, nil)
	var times []time.Duration
	for i := 1; i <= 6; i++ {
		e.release(t, "app", "example/app:"+strconv.Itoa(i), "", true)
		res, err := kube.Rollback(ctxT(t, time.Minute), e.restricted, e.ns, "app", kube.RollbackOptions{})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, res.Available)
	}
	slices.Sort(times)
	t.Logf("rollback call -> previous revision Available (3 replicas), %d runs: min %s, median %s, max %s; all %v",
		len(times), times[0], times[len(times)/2], times[len(times)-1], times)
	if times[len(times)/2] > 10*time.Second {
		t.Errorf("median %s exceeds the 10 s goal", times[len(times)/2])
	}
}

// The command line, as the binary runs it under the restricted kubeconfig.

var binary struct {
	once sync.Once
	path string
	err  error
}

func plimsoll(t *testing.T, args ...string) (int, string) {
	t.Helper()
	binary.once.Do(func() {
		_, file, _, _ := goruntime.Caller(0)
		dir, err := os.MkdirTemp("", "plimsoll-kube-e2e-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "plimsoll")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/plimsoll")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatalf("build plimsoll: %v", binary.err)
	}
	cmd := exec.Command(binary.path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("plimsoll %s -> exit %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

func TestRollbackCommand(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b"} {
		e.deploy(t, n, "example/"+n+":1", 600, nil)
		e.release(t, n, "example/"+n+":2", "", true)
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "history.db")
	code, out := plimsoll(t, "rollback", "deploy/a", "deploy/b", "--kubeconfig", e.kubeconfig, "--reason", "p95 doubled",
		"--store", store, "--incident-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, n := range []string{"a", "b"} {
		want := fmt.Sprintf("deploy/%s: rolled back from revision 2 (example/%s:2) to revision 1 (example/%s:1), now revision 3; Available in", n, n, n)
		if !strings.Contains(out, want) || e.kubectlImage(t, n) != "example/"+n+":1" {
			t.Errorf("deploy/%s: want %q in the output; kubectl shows %s", n, want, e.kubectlImage(t, n))
		}
	}
	mds, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if len(mds) != 2 {
		t.Fatalf("incident reports: %v", mds)
	}
	st, err := open.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	incs, err := st.Incidents(context.Background(), plstore.IncidentFilter{Workload: "deploy/a"})
	st.Close()
	if err != nil || len(incs) != 1 || incs[0].Kind != plstore.IncidentRollback || incs[0].FromImage != "example/a:2" ||
		incs[0].ToImage != "example/a:1" || incs[0].Reason != "p95 doubled" || len(incs[0].Timeline) < 3 {
		t.Errorf("stored incidents: %+v, %v", incs, err)
	}
	md, _ := os.ReadFile(mds[0])
	for _, want := range []string{"## Timeline (UTC)", "p95 doubled", "Available after"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("incident report lacks %q:\n%s", want, md)
		}
	}
	// dry run through the command: exit 0, nothing changed
	before := e.get(t, "a")
	if code, out := plimsoll(t, "rollback", "deploy/a", "--dry-run", "--kubeconfig", e.kubeconfig, "--store", "none", "--incident-dir", ""); code != 0 || !strings.Contains(out, "dry run: nothing changed") {
		t.Errorf("dry run: exit %d", code)
	}
	e.unchanged(t, "the dry run", before)
	// errors: unknown revision is 1, a bad workload is usage
	if code, out := plimsoll(t, "rollback", "deploy/a", "--to-revision", "9", "--kubeconfig", e.kubeconfig, "--store", "none"); code != 1 ||
		!strings.Contains(out, "unable to find specified revision 9 in history") {
		t.Errorf("unknown revision: exit %d", code)
	}
	if code, _ := plimsoll(t, "rollback", "pod/a", "--kubeconfig", e.kubeconfig); code != 2 {
		t.Errorf("pod/a: exit %d, want 2", code)
	}
}

func TestDrillCommand(t *testing.T) {
	e := newEnv(t)
	e.deploy(t, "app", "example/app:1", 600, nil)
	code, out := plimsoll(t, "drill", "deploy/app", "--image", "example/app:2", "--kubeconfig", e.kubeconfig)
	if code != 0 || !strings.Contains(out, "PASSED: example/app:1 -> example/app:2 -> example/app:1") || e.kubectlImage(t, "app") != "example/app:1" {
		t.Errorf("drill: exit %d, image %s", code, e.kubectlImage(t, "app"))
	}
	// An app that is unhealthy after the rollback: the rollback path does not work.
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer sick.Close()
	code, out = plimsoll(t, "drill", "deploy/app", "--image", "example/app:2", "--kubeconfig", e.kubeconfig, "--health-url", sick.URL)
	if code != 20 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "503") {
		t.Errorf("drill with an unhealthy app: exit %d, want 20", code)
	}
	if code, _ := plimsoll(t, "drill", "deploy/app", "--kubeconfig", e.kubeconfig); code != 2 {
		t.Errorf("drill without --image: exit %d, want 2", code)
	}
}

// TestRollbackUnpullable rolls back to a revision whose image cannot be pulled: Rollback
// notices the pull failures long before the progress deadline (600 s) and fails with
// ErrImagePull, or sets the image OnPullFailure gives and ends Available on it.
func TestRollbackUnpullable(t *testing.T) {
	e := newEnv(t)
	const bad = "unpullable.example/app:1.0.0"
	// setup gives deployment name the history 1 example/app:0.9.0, 2 bad (never Available),
	// 3 example/app:2.0.0 (current).
	setup := func(t *testing.T, name string) {
		e.deploy(t, name, "example/app:0.9.0", 600, nil)
		e.release(t, name, bad, "", false)
		ctx := ctxT(t, time.Minute)
		for {
			fs, err := kube.PullFailures(ctx, e.restricted, e.ns, &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}})
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) > 0 {
				if fs[0].Image != bad || fs[0].Reason != "ImagePullBackOff" || fs[0].Container != "app" {
					t.Fatalf("pull failures of the bad release: %+v", fs)
				}
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the bad release's pods never showed a pull failure")
			case <-time.After(100 * time.Millisecond):
			}
		}
		e.release(t, name, "example/app:2.0.0", "", true)
	}
	type call struct {
		image    string
		failures []kube.PullFailure
	}
	fallback := func(calls *[]call, use string, err error) func(context.Context, string, []kube.PullFailure) (string, error) {
		return func(_ context.Context, image string, failures []kube.PullFailure) (string, error) {
			*calls = append(*calls, call{image, failures})
			return use, err
		}
	}
	// checkCalls wants exactly one call of OnPullFailure, about bad.
	checkCalls := func(t *testing.T, calls []call) {
		t.Helper()
		if len(calls) != 1 || calls[0].image != bad || len(calls[0].failures) == 0 || calls[0].failures[0].Image != bad {
			t.Errorf("OnPullFailure calls: %+v, want one about %s", calls, bad)
		}
	}
	noMirror := errors.New("no mirror has it")
	for _, tc := range []struct {
		name     string
		use      string
		err      error
		wantErr  []error
		wantText string // in the error
	}{
		{name: "no fallback", wantErr: []error{kube.ErrImagePull}, wantText: `image "` + bad + `" cannot be pulled: ImagePullBackOff (Back-off pulling image "` + bad + `")`},
		{name: "fallback error", err: noMirror, wantErr: []error{kube.ErrImagePull, noMirror}, wantText: ", container app); no mirror has it"},
		{name: "no answer", use: "", wantErr: []error{kube.ErrImagePull}, wantText: "no fallback for " + bad},
		{name: "fallback unpullable too", use: "unpullable.mirror.example/app:1.0.0", wantErr: []error{kube.ErrImagePull},
			wantText: `image "unpullable.mirror.example/app:1.0.0" cannot be pulled: ImagePullBackOff`},
		{name: "fallback", use: "example/app:1.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			setup(t, name)
			var calls []call
			opts := kube.RollbackOptions{Reason: "test", By: "tester"}
			if tc.name != "no fallback" {
				opts.OnPullFailure = fallback(&calls, tc.use, tc.err)
			}
			var progress []string
			opts.Progress = func(s string) { progress = append(progress, s) }
			t0 := time.Now()
			res, err := kube.Rollback(ctxT(t, 2*time.Minute), e.restricted, e.ns, name, opts)
			took := time.Since(t0)
			if tc.name != "no fallback" {
				checkCalls(t, calls)
			}
			if res.To.Number != 2 || !res.Applied {
				t.Errorf("result %+v", res)
			}
			a := e.get(t, name).Annotations
			if a[kube.AnnotationRolledBackTo] != "2" || a[kube.AnnotationBy] != "tester" {
				t.Errorf("audit annotations: %v", a)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("rollback with a fallback: %v\n%s", err, strings.Join(progress, "\n"))
				}
				d := e.get(t, name)
				if img := e.kubectlImage(t, name); img != tc.use || d.Status.AvailableReplicas != 3 || res.ReadyPods != 3 {
					t.Errorf("after the fallback: image %s, %d available, %d ready pods", img, d.Status.AvailableReplicas, res.ReadyPods)
				}
				if a[kube.AnnotationFallbackImage] != tc.use || res.Fallback != bad+" → "+tc.use || len(res.PullFailures) != 0 {
					t.Errorf("fallback %q, annotation %q, failures %v", res.Fallback, a[kube.AnnotationFallbackImage], res.PullFailures)
				}
				if !slices.ContainsFunc(progress, func(s string) bool { return strings.Contains(s, "falls back to "+res.Fallback) }) {
					t.Errorf("progress does not tell the fallback:\n%s", strings.Join(progress, "\n"))
				}
				t.Logf("rollback call -> fallback %s Available: %s", res.Fallback, took.Round(time.Millisecond))
				return
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v is not %v", err, want)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %v, want it to say %s", err, tc.wantText)
			}
			if len(res.PullFailures) == 0 {
				t.Errorf("no pull failures in the result %+v", res)
			}
			if took > 20*time.Second {
				t.Errorf("ErrImagePull after %s: not well before the progress deadline (600 s)", took)
			}
			if v, ok := a[kube.AnnotationFallbackImage]; ok != (tc.use != "") || v != tc.use {
				t.Errorf("fallback annotation %q (present %v), want %q", v, ok, tc.use)
			}
			t.Logf("rollback call -> ErrImagePull: %s (%v)", took.Round(time.Millisecond), err)
		})
	}
}
