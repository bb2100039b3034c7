package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

type podSpec struct {
	owner       string // the ReplicaSet's hash
	ready       bool
	crashing    bool
	terminating bool
}

func pod(i int, p podSpec) *corev1.Pod {
	po := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api-" + p.owner + "-" + string(rune('a'+i)), Namespace: "shop",
		Labels:          map[string]string{"app": "api", appsv1.DefaultDeploymentUniqueLabelKey: p.owner},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-" + p.owner, UID: types.UID("rs-" + p.owner), Controller: ptr(true)}}}}
	st := corev1.ConditionFalse
	if p.ready {
		st = corev1.ConditionTrue
	}
	po.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if p.crashing {
		po.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 4, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	}
	if p.terminating {
		po.DeletionTimestamp = ptr(metav1.Now())
		po.Finalizers = []string{"test"}
	}
	return po
}

func TestVerify(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer sick.Close()
	ready := podSpec{owner: "h2", ready: true}
	for _, tc := range []struct {
		name    string
		pods    []podSpec
		url     string
		wantN   int
		wantErr string
	}{
		{"all ready", []podSpec{ready, ready, ready}, "", 3, ""},
		{"health 200", []podSpec{ready, ready, ready}, ok.URL, 3, ""},
		{"health 500", []podSpec{ready, ready, ready}, sick.URL, 3, "500 Internal Server Error"},
		{"one not ready", []podSpec{ready, ready, {owner: "h2"}}, "", 2, "2 of 3 pods Ready"},
		{"crash-looping", []podSpec{ready, ready, {owner: "h2", ready: true, crashing: true}}, "", 3, "container app is crash-looping (4 restarts)"},
		{"terminating and other revisions' pods do not count", []podSpec{ready, ready, {owner: "h2", ready: true, terminating: true}, {owner: "h1", ready: true}}, "", 2, "2 of 3 pods Ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := fixture(rev{2, "api:2", ""}, rev{1, "api:1", ""}, rev{2, "api:2", ""})
			d := objs[0].(*appsv1.Deployment)
			d.Spec.Replicas = ptr(int32(3))
			for i, p := range tc.pods {
				objs = append(objs, pod(i, p))
			}
			c := fake.NewClientset(objs...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second) // cuts the health retries short
			defer cancel()
			n, err := verify(ctx, c, d, RollbackOptions{HealthURL: tc.url})
			if n != tc.wantN {
				t.Errorf("ready pods = %d, want %d", n, tc.wantN)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
