package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// kubelet plays a node on a fake API: every pod of ns gets status from state until ctx ends.
func kubelet(ctx context.Context, cs *fake.Clientset, ns string, state func(*corev1.Pod) corev1.ContainerState) {
	go func() {
		for ctx.Err() == nil {
			pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			for _, p := range pods.Items {
				p.Spec.NodeName = "node-1"
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: state(&p)}}
				_, _ = cs.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{})
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

func fakeRuntime(cs *fake.Clientset) *Runtime {
	return &Runtime{client: cs, o: options{namespace: "ns", log: slog.New(slog.DiscardHandler), grace: time.Second, deadline: time.Hour, startTimeout: 10 * time.Second}}
}

func TestStartStop(t *testing.T) {
	cs := fake.NewClientset()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := metav1.NewTime(time.Now().Truncate(time.Second))
	kubelet(ctx, cs, "ns", func(*corev1.Pod) corev1.ContainerState {
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	})
	rt := fakeRuntime(cs)
	inst, err := rt.Start(ctx, runtime.Spec{Image: "i", RunID: "r", Role: "old", Ports: []int{80}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := inst.State(ctx); err != nil || !st.Running || !st.StartedAt.Equal(started.Time) {
		t.Fatalf("State = %+v, %v; want running", st, err)
	}
	if n := inst.(*Instance).Node(); n != "node-1" {
		t.Errorf("Node = %q", n)
	}
	if _, err := inst.PID(ctx); !errors.Is(err, runtime.ErrStatsUnavailable) {
		t.Errorf("PID: %v, want ErrStatsUnavailable", err)
	}
	cancel() // the node stops reporting: the pod is deleted while the API still says running
	if err := inst.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := inst.Stop(t.Context()); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
	if pods, _ := cs.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("pods left after Stop: %d", len(pods.Items))
	}
	st, err := inst.State(t.Context())
	if err != nil || st.Running || st.FinishedAt.IsZero() || !st.StartedAt.Equal(started.Time) {
		t.Errorf("State after Stop = %+v, %v; want finished, not running", st, err)
	}
	for what, fn := range map[string]func() error{
		"Exec":     func() error { _, err := inst.Exec(t.Context(), []string{"true"}); return err },
		"Endpoint": func() error { _, err := inst.Endpoint(t.Context(), 80); return err },
		"Stats":    func() error { _, err := inst.Stats(t.Context()); return err },
		"PID":      func() error { _, err := inst.PID(t.Context()); return err },
		"Logs":     func() error { return inst.Logs(t.Context(), io.Discard) },
	} {
		if err := fn(); !errors.Is(err, runtime.ErrRemoved) {
			t.Errorf("%s after Stop: %v, want ErrRemoved", what, err)
		}
	}
}

func TestStartImagePullFails(t *testing.T) {
	cs := fake.NewClientset()
	kubelet(t.Context(), cs, "ns", func(*corev1.Pod) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}
	})
	_, err := fakeRuntime(cs).Start(t.Context(), runtime.Spec{Image: "127.0.0.1:1/none:0", RunID: "r", Role: "old"})
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("Start: %v, want ErrImageNotFound", err)
	}
	if pods, _ := cs.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("a pod that cannot pull its image is left: %d", len(pods.Items))
	}
}

func TestStopGoneAlready(t *testing.T) {
	cs := fake.NewClientset()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kubelet(ctx, cs, "ns", func(*corev1.Pod) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}
	})
	inst, err := fakeRuntime(cs).Start(ctx, runtime.Spec{Image: "i", RunID: "r", Role: "old"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := cs.CoreV1().Pods("ns").Delete(t.Context(), inst.(*Instance).name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.State(t.Context()); !errors.Is(err, runtime.ErrRemoved) {
		t.Errorf("State of a pod deleted by someone else: %v, want ErrRemoved", err)
	}
	if err := inst.Stop(t.Context()); err != nil {
		t.Errorf("Stop of a pod deleted by someone else: %v", err)
	}
}
