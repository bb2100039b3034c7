package kube

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// pullPod is pod p of ReplicaSet rs-<owner> with the given containers and statuses.
func pullPod(name, owner string, ready bool, init, ctrs []corev1.Container, initSt, st []corev1.ContainerStatus) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "api"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-" + owner, UID: types.UID("rs-" + owner), Controller: ptr(true)}}},
		Spec:   corev1.PodSpec{InitContainers: init, Containers: ctrs},
		Status: corev1.PodStatus{InitContainerStatuses: initSt, ContainerStatuses: st},
	}
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
	return p
}

func waiting(name, image, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

func running(name, image string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: image, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func ctr(name, image string) corev1.Container { return corev1.Container{Name: name, Image: image} }

const badImage = "unpullable.example/app:1"

var backOff = `Back-off pulling image "` + badImage + `"`

func TestPodPullFailures(t *testing.T) {
	gone := pullPod("z-gone", "a", false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", badImage, "ImagePullBackOff", backOff)})
	gone.DeletionTimestamp = ptr(metav1.Now())
	for _, tc := range []struct {
		name string
		pods []corev1.Pod
		want []PullFailure
	}{
		{"no pods", nil, nil},
		{"running", []corev1.Pod{pullPod("p", "a", true, nil, []corev1.Container{ctr("app", "example/app:1")}, nil, []corev1.ContainerStatus{running("app", "example/app:1")})}, nil},
		{"not pulled yet", []corev1.Pod{pullPod("p", "a", false, nil, []corev1.Container{ctr("app", "example/app:1")}, nil, []corev1.ContainerStatus{waiting("app", "example/app:1", "ContainerCreating", "")})}, nil},
		{"crash loop is not a pull failure", []corev1.Pod{pullPod("p", "a", false, nil, []corev1.Container{ctr("app", "example/app:1")}, nil, []corev1.ContainerStatus{waiting("app", "example/app:1", "CrashLoopBackOff", "back-off 10s")})}, nil},
		{"back-off", []corev1.Pod{pullPod("p", "a", false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", badImage, "ImagePullBackOff", backOff)})},
			[]PullFailure{{Pod: "p", Container: "app", Image: badImage, Reason: "ImagePullBackOff", Message: backOff}}},
		{"every kubelet reason, init containers too, sorted", []corev1.Pod{
			pullPod("q", "a", false, []corev1.Container{ctr("migrate", "unpullable.example/migrate:1")}, []corev1.Container{ctr("app", "x:1"), ctr("side", "y:1")},
				[]corev1.ContainerStatus{waiting("migrate", "unpullable.example/migrate:1", "ErrImagePull", "rpc error: not found")},
				[]corev1.ContainerStatus{waiting("side", "y:1", "SignatureValidationFailed", ""), waiting("app", "x:1", "RegistryUnavailable", "")}),
			pullPod("p", "a", false, nil, []corev1.Container{ctr("a", "a"), ctr("b", "b:1"), ctr("c", "c:1"), ctr("d", "d:1")}, nil, []corev1.ContainerStatus{
				waiting("d", "d:1", "ImageInspectError", ""), waiting("c", "c:1", "ErrImageNeverPull", ""), waiting("b", "b:1", "PodInitializing", ""), waiting("a", "a", "InvalidImageName", "")}),
		}, []PullFailure{
			{Pod: "p", Container: "a", Image: "a", Reason: "InvalidImageName"},
			{Pod: "p", Container: "c", Image: "c:1", Reason: "ErrImageNeverPull"},
			{Pod: "p", Container: "d", Image: "d:1", Reason: "ImageInspectError"},
			{Pod: "q", Container: "app", Image: "x:1", Reason: "RegistryUnavailable"},
			{Pod: "q", Container: "migrate", Image: "unpullable.example/migrate:1", Reason: "ErrImagePull", Message: "rpc error: not found"},
			{Pod: "q", Container: "side", Image: "y:1", Reason: "SignatureValidationFailed"},
		}},
		{"the spec's image wins over the status's", []corev1.Pod{pullPod("p", "a", false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", "", "ErrImagePull", "")})},
			[]PullFailure{{Pod: "p", Container: "app", Image: badImage, Reason: "ErrImagePull"}}},
		{"a pod being deleted is left out", []corev1.Pod{gone}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podPullFailures(tc.pods); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestStuckOnPull(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-new", UID: "rs-new"}}
	failing := func(name, owner string) corev1.Pod {
		return pullPod(name, owner, false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", badImage, "ImagePullBackOff", backOff)})
	}
	ready := pullPod("ok", "new", true, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{running("app", badImage)})
	for _, tc := range []struct {
		name string
		pods []corev1.Pod
		want []string // pods of the failures
	}{
		{"no pods", nil, nil},
		{"failing pods of the new ReplicaSet", []corev1.Pod{failing("b", "new"), failing("a", "new")}, []string{"a", "b"}},
		{"failing pods of another ReplicaSet are not its", []corev1.Pod{failing("a", "old")}, nil},
		{"one Ready pod: the image pulls somewhere", []corev1.Pod{failing("a", "new"), ready}, nil},
		{"a Ready pod of another ReplicaSet does not count", []corev1.Pod{failing("a", "new"), pullPod("ok", "old", true, nil, nil, nil, nil)}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range stuckOnPull(livePods(rs, tc.pods)) {
				got = append(got, f.Pod)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("failures of pods %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPullFailureString(t *testing.T) {
	for _, tc := range []struct {
		f    PullFailure
		want string
	}{
		{PullFailure{Pod: "p", Container: "c", Image: badImage, Reason: "ImagePullBackOff", Message: backOff},
			`image "unpullable.example/app:1" cannot be pulled: ImagePullBackOff (Back-off pulling image "unpullable.example/app:1") (pod p, container c)`},
		{PullFailure{Pod: "p", Container: "c", Image: "x", Reason: "InvalidImageName"}, `image "x" cannot be pulled: InvalidImageName (pod p, container c)`},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	why := errors.New("no mirror has it")
	err := pullError([]PullFailure{{Pod: "p", Container: "c", Image: "x", Reason: "ErrImagePull"}, {Pod: "q"}}, why)
	if !errors.Is(err, ErrImagePull) || !errors.Is(err, why) ||
		err.Error() != `image "x" cannot be pulled: ErrImagePull (pod p, container c) (and 1 more); no mirror has it` {
		t.Errorf("pullError: %v", err)
	}
}

func TestPullFailures(t *testing.T) {
	bad := pullPod("bad", "a", false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", badImage, "ImagePullBackOff", backOff)})
	other := pullPod("other", "a", false, nil, []corev1.Container{ctr("app", badImage)}, nil, []corev1.ContainerStatus{waiting("app", badImage, "ImagePullBackOff", backOff)})
	other.Labels = map[string]string{"app": "web"}
	c := fake.NewClientset(&bad, &other)
	for _, tc := range []struct {
		sel  *metav1.LabelSelector
		want []string
	}{
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, []string{"bad"}},
		{nil, []string{"bad", "other"}},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}, nil},
	} {
		fs, err := PullFailures(context.Background(), c, "shop", tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Pod)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("selector %v: pods %v, want %v", tc.sel, got, tc.want)
		}
	}
	if _, err := PullFailures(context.Background(), c, "shop", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}); err == nil {
		t.Error("a bad selector gave no error")
	}
}

func TestImagePatch(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", ResourceVersion: "42"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("migrate", "m:1")},
			Containers:     []corev1.Container{ctr("side", "s:1"), ctr("app", badImage)}}}}}
	for _, tc := range []struct {
		ctr, from string
		want      string // the patch, or the error's text
	}{
		{"app", badImage, `[{"op":"test","path":"/spec/template/spec/containers/1/name","value":"app"},{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"mirror/app:1"},{"op":"replace","path":"/metadata/resourceVersion","value":"42"}]`},
		{"migrate", "m:1", `[{"op":"test","path":"/spec/template/spec/initContainers/0/name","value":"migrate"},{"op":"replace","path":"/spec/template/spec/initContainers/0/image","value":"mirror/app:1"},{"op":"replace","path":"/metadata/resourceVersion","value":"42"}]`},
		{"app", "example/app:0", "container app now runs unpullable.example/app:1, not example/app:0"},
		{"gone", badImage, "has no container gone"},
	} {
		p, err := imagePatch(d, tc.ctr, tc.from, "mirror/app:1")
		got := string(p)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s from %s: got %s\nwant %s", tc.ctr, tc.from, got, tc.want)
		}
		if err == nil && !json.Valid(p) {
			t.Errorf("invalid JSON %s", p)
		}
	}
}
