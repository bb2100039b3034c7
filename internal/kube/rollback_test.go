package kube

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// rev describes one ReplicaSet of the fake Deployment "api".
type rev struct {
	n         int64
	image     string
	migration string
}

func template(image, migration, hash string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
	if hash != "" {
		t.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	}
	if migration != "" {
		t.Annotations = map[string]string{MigrationAnnotation: migration}
	}
	return t
}

// fixture returns the Deployment "api" running the template of cur and its ReplicaSets.
func fixture(cur rev, revs ...rev) []runtime.Object {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", UID: "d-uid", ResourceVersion: "7",
			Annotations: map[string]string{RevisionAnnotation: strconv.FormatInt(cur.n, 10), "team": "payments"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: template(cur.image, cur.migration, ""),
		},
	}
	objs := []runtime.Object{d}
	for _, r := range revs {
		hash := "h" + strconv.FormatInt(r.n, 10)
		objs = append(objs, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "api-" + hash, Namespace: "shop", UID: types.UID("rs-" + hash),
				Labels: map[string]string{"app": "api", appsv1.DefaultDeploymentUniqueLabelKey: hash},
				Annotations: map[string]string{RevisionAnnotation: strconv.FormatInt(r.n, 10), ChangeCauseAnnotation: "release " + r.image,
					"deployment.kubernetes.io/desired-replicas": "3"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", UID: "d-uid", Controller: ptr(true)}}},
			Spec: appsv1.ReplicaSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api", appsv1.DefaultDeploymentUniqueLabelKey: hash}},
				Template: template(r.image, r.migration, hash),
			},
		})
	}
	// A ReplicaSet with the same labels that another Deployment controls is not history.
	objs = append(objs, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "impostor", Namespace: "shop", Labels: map[string]string{"app": "api"},
			Annotations:     map[string]string{RevisionAnnotation: "99"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "other", UID: "other-uid", Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Template: template("impostor:1", "", "x")},
	})
	return objs
}

func ptr[T any](v T) *T { return &v }

func TestPickRevision(t *testing.T) {
	v1, v2, v3 := rev{1, "api:1", ""}, rev{2, "api:2", ""}, rev{3, "api:3", ""}
	for _, tc := range []struct {
		name    string
		cur     rev
		revs    []rev
		to      int64
		want    int64
		wantErr string
		is      error
	}{
		{"previous is the second-highest", v3, []rev{v1, v2, v3}, 0, 2, "", nil},
		{"order of listing does not matter", v3, []rev{v3, v1, v2}, 0, 2, "", nil},
		{"previous even when current is not the highest", v1, []rev{v1, v2, v3}, 0, 2, "", nil},
		{"to a named revision", v3, []rev{v1, v2, v3}, 1, 1, "", nil},
		{"to the current revision", v3, []rev{v1, v2, v3}, 3, 3, "", nil},
		{"unknown revision", v3, []rev{v1, v2, v3}, 7, 0, "unable to find specified revision 7 in history", ErrRevisionNotFound},
		{"negative revision", v3, []rev{v1, v2, v3}, -1, 0, "unable to find specified revision -1 in history", ErrRevisionNotFound},
		{"only one revision", v1, []rev{v1}, 0, 0, `no rollout history found for deployment "api"`, ErrNoHistory},
		{"the impostor's 99 is not found", v3, []rev{v1, v2, v3}, 99, 0, "unable to find specified revision 99 in history", ErrRevisionNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(fixture(tc.cur, tc.revs...)...)
			_, revs, err := History(context.Background(), c, "shop", "api")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pickRevision("api", revs, tc.to)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %q (%v)", err, tc.wantErr, tc.is)
				}
				return
			}
			if err != nil || got.Number != tc.want {
				t.Fatalf("got revision %d, %v; want %d", got.Number, err, tc.want)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	c := fake.NewClientset(fixture(rev{2, "api:2", "m1"}, rev{2, "api:2", "m1"}, rev{1, "api:1", ""})...)
	_, revs, err := History(context.Background(), c, "shop", "api")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Number != 1 || revs[1].Number != 2 {
		t.Fatalf("revisions = %+v", revs)
	}
	if revs[0].Current || !revs[1].Current || revs[1].Migration != "m1" || revs[1].Image() != "api:2" || revs[0].ChangeCause != "release api:1" {
		t.Errorf("revisions = %+v", revs)
	}
}

func TestMigrationBlock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revs   []rev
		target int64
		want   []int64
	}{
		{"no migrations", []rev{{1, "a", ""}, {2, "b", ""}}, 1, nil},
		{"newer revision migrated", []rev{{1, "a", ""}, {2, "b", "m1"}, {3, "c", "m1"}}, 1, []int64{2, 3}},
		{"target carries the same migration", []rev{{1, "a", ""}, {2, "b", "m1"}, {3, "c", "m1"}}, 2, nil},
		{"target has an older migration", []rev{{1, "a", "m1"}, {2, "b", "m2"}}, 1, []int64{2}},
		{"migration only in older revisions", []rev{{1, "a", "m1"}, {2, "b", ""}, {3, "c", ""}}, 2, nil},
		{"rolling forward is never blocked", []rev{{1, "a", "m1"}, {2, "b", ""}}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var revs []Revision
			var target Revision
			for _, r := range tc.revs {
				rv := Revision{Number: r.n, Migration: r.migration}
				revs = append(revs, rv)
				if r.n == tc.target {
					target = rv
				}
			}
			var got []int64
			for _, b := range migrationBlock(revs, target) {
				got = append(got, b.Number)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("blocked by %v, want %v", got, tc.want)
			}
		})
	}
}

// patchedDeployment returns the Deployment after Rollback, and the JSON patches sent.
func patches(c *fake.Clientset) []k8stesting.PatchAction {
	var out []k8stesting.PatchAction
	for _, a := range c.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == "deployments" {
			out = append(out, p)
		}
	}
	return out
}

func TestRollbackPatch(t *testing.T) {
	c := fake.NewClientset(fixture(rev{3, "api:3", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""}, rev{3, "api:3", ""})...)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The fake has no deployment controller: the rollout never finishes, which is the
	// timeout; what matters here is the patch.
	res, err := Rollback(ctx, c, "shop", "api", RollbackOptions{Reason: "bad release", By: "alice"})
	if !errors.Is(err, ErrRolloutTimeout) {
		t.Fatalf("err = %v, want a rollout timeout (no controller)", err)
	}
	if res.From.Number != 3 || res.To.Number != 2 || res.Message != "rolled back" || !res.Applied || res.Attempts != 1 {
		t.Errorf("result = %+v", res)
	}
	ps := patches(c)
	if len(ps) != 2 || ps[0].GetPatchType() != types.JSONPatchType || ps[1].GetPatchType() != types.MergePatchType {
		t.Fatalf("patches = %v", ps)
	}
	var ops []struct {
		Op, Path string
		Value    json.RawMessage
	}
	if err := json.Unmarshal(ps[0].GetPatch(), &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[2].Path != "/metadata/resourceVersion" || string(ops[2].Value) != `"7"` {
		t.Errorf("no resourceVersion precondition: %s", ps[0].GetPatch())
	}
	d, err := c.AppsV1().Deployments("shop").Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "api:2" {
		t.Errorf("image = %s, want api:2", img)
	}
	if _, ok := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("the pod-template-hash label was restored into the Deployment")
	}
	a := d.Annotations
	if a[ChangeCauseAnnotation] != "release api:2" || a[RevisionAnnotation] != "3" || a["deployment.kubernetes.io/desired-replicas"] != "" {
		t.Errorf("annotations not as kubectl restores them: %v", a)
	}
	if a[AnnotationRolledBackTo] != "2" || a[AnnotationReason] != "bad release" || a[AnnotationBy] != "alice" || a[AnnotationAt] == "" {
		t.Errorf("audit annotations: %v", a)
	}
}

func TestRollbackRefusals(t *testing.T) {
	paused := fixture(rev{2, "api:2", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""})
	paused[0].(*appsv1.Deployment).Spec.Paused = true
	for _, tc := range []struct {
		name    string
		objs    []runtime.Object
		opts    RollbackOptions
		wantErr string
		is      error
		skipped bool
	}{
		{"paused", paused, RollbackOptions{}, "you cannot rollback a paused deployment", ErrPaused, false},
		{"already at the target", fixture(rev{1, "api:1", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""}), RollbackOptions{ToRevision: 1},
			"", nil, true},
		{"migration guard", fixture(rev{3, "api:3", "2026_11_add_orders_idx"}, rev{1, "api:1", ""}, rev{2, "api:2", "2026_11_add_orders_idx"}, rev{3, "api:3", "2026_11_add_orders_idx"}),
			RollbackOptions{ToRevision: 1}, `revision 2 applied schema migration "2026_11_add_orders_idx"`, ErrMigrationGuard, false},
		{"dry run", fixture(rev{2, "api:2", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""}), RollbackOptions{DryRun: true}, "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(tc.objs...)
			res, err := Rollback(context.Background(), c, "shop", "api", tc.opts)
			if tc.wantErr != "" {
				if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Applied {
				t.Error("reported as applied")
			}
			if res.Skipped != tc.skipped {
				t.Errorf("skipped = %v (%s)", res.Skipped, res.Message)
			}
			for _, p := range patches(c) {
				if len(p.(k8stesting.PatchActionImpl).GetPatchOptions().DryRun) == 0 {
					t.Errorf("changed the Deployment: %s", p.GetPatch())
				}
			}
		})
	}
}

func TestRollbackRetriesOnConflict(t *testing.T) {
	c := fake.NewClientset(fixture(rev{2, "api:2", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""})...)
	conflicts := 2
	c.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetPatchType() == types.JSONPatchType && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "api", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var steps []string
	res, err := Rollback(ctx, c, "shop", "api", RollbackOptions{Progress: func(s string) { steps = append(steps, s) }})
	if !errors.Is(err, ErrRolloutTimeout) {
		t.Fatalf("err = %v", err)
	}
	if res.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", res.Attempts)
	}
	d, _ := c.AppsV1().Deployments("shop").Get(context.Background(), "api", metav1.GetOptions{})
	if d.Spec.Template.Spec.Containers[0].Image != "api:1" {
		t.Errorf("image = %s after retries", d.Spec.Template.Spec.Containers[0].Image)
	}
	if !strings.Contains(strings.Join(steps, "\n"), "changed while rolling back (attempt 2)") {
		t.Errorf("steps = %q", steps)
	}
}

func TestRolloutStatus(t *testing.T) {
	now := time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)
	dep := func(gen, observed int64, replicas, updated, total, available int32, cond *appsv1.DeploymentCondition, pds int32) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Generation: gen},
			Spec:   appsv1.DeploymentSpec{Replicas: &replicas, ProgressDeadlineSeconds: &pds},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total, AvailableReplicas: available}}
		if cond != nil {
			d.Status.Conditions = []appsv1.DeploymentCondition{*cond}
		}
		return d
	}
	deadline := func(at time.Time) *appsv1.DeploymentCondition {
		return &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			LastUpdateTime: metav1.NewTime(at)}
	}
	for _, tc := range []struct {
		name     string
		d        *appsv1.Deployment
		since    time.Time
		now      time.Time
		done     bool
		msg, err string
	}{
		{"spec not observed", dep(2, 1, 3, 3, 3, 3, nil, 600), time.Time{}, now, false, "Waiting for deployment spec update to be observed...", ""},
		{"updating", dep(2, 2, 3, 1, 4, 3, nil, 600), time.Time{}, now, false, "1 out of 3 new replicas have been updated", ""},
		{"old pending termination", dep(2, 2, 3, 3, 4, 3, nil, 600), time.Time{}, now, false, "1 old replicas are pending termination", ""},
		{"not available yet", dep(2, 2, 3, 3, 3, 2, nil, 600), time.Time{}, now, false, "2 of 3 updated replicas are available", ""},
		{"done", dep(2, 2, 3, 3, 3, 3, nil, 600), time.Time{}, now, true, `deployment "api" successfully rolled out`, ""},
		{"deadline", dep(2, 2, 3, 1, 4, 3, deadline(now), 5), time.Time{}, now, false, "", `deployment "api" exceeded its progress deadline`},
		{"deadline during the wait", dep(2, 2, 3, 1, 4, 3, deadline(now), 5), now.Add(-time.Second), now, false, "", "exceeded its progress deadline"},
		{"stale deadline of the release rolled back", dep(3, 3, 3, 0, 3, 3, deadline(now.Add(-time.Minute)), 5), now, now.Add(2 * time.Second), false, "0 out of 3 new replicas", ""},
		{"stale deadline, own deadline passed", dep(3, 3, 3, 0, 3, 3, deadline(now.Add(-time.Minute)), 5), now, now.Add(6 * time.Second), false, "", "exceeded its progress deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := RolloutStatus(tc.d, tc.since, tc.now)
			if tc.err != "" {
				if !errors.Is(err, ErrProgressDeadline) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || st.Done != tc.done || !strings.Contains(st.Message, tc.msg) {
				t.Errorf("got %+v, %v; want done=%v %q", st, err, tc.done, tc.msg)
			}
		})
	}
}

func TestParseDeployment(t *testing.T) {
	for in, want := range map[string]string{"deploy/a": "a", "deployment/b": "b", "deployments.apps/c": "c", "Deploy/d": "d",
		"pod/a": "", "deploy/": "", "a": "", "deploy/a/b": ""} {
		got, err := ParseDeployment(in)
		if got != want || (want == "") != errors.Is(err, ErrBadWorkload) {
			t.Errorf("ParseDeployment(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzParseDeployment(f *testing.F) {
	for _, s := range []string{"deploy/a", "deployments.apps/x", "/", "deploy//", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseDeployment(s)
		if err == nil && (name == "" || strings.Contains(name, "/")) {
			t.Fatalf("ParseDeployment(%q) = %q without error", s, name)
		}
	})
}
