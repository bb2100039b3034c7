package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// GC deletes the pods plimsoll left behind in the namespace: those whose owning plimsoll
// process (annotated PID on this host) is gone, and those of the runs named. Pods started from
// other hosts are left alone unless named: their owner cannot be seen from here (the pods'
// activeDeadlineSeconds ends them). It returns the pods it deleted, namespace/name.
func (r *Runtime) GC(ctx context.Context, runIDs ...string) ([]string, error) {
	pods, err := r.plimsollPods(ctx, "")
	if err != nil {
		return nil, err
	}
	var gone []corev1.Pod
	for _, p := range pods {
		named := false
		for _, id := range runIDs {
			named = named || p.Labels[runtime.LabelRun] == id
		}
		if named || runtime.OwnerGone(p.Annotations, r.host) {
			gone = append(gone, p)
		}
	}
	return r.deletePods(ctx, gone)
}

// StopRun deletes every pod of run runID at once (no grace period): what is left of a run
// interrupted before its instances could stop.
func (r *Runtime) StopRun(ctx context.Context, runID string) ([]string, error) {
	pods, err := r.plimsollPods(ctx, runID)
	if err != nil {
		return nil, err
	}
	return r.deletePods(ctx, pods)
}

// Close releases nothing: every pod is deleted by its Instance's Stop or by StopRun. It is
// there so that both runtimes close the same way.
func (r *Runtime) Close() error { return nil }

// plimsollPods lists the namespace's pods labelled with a run (runID, or any run for "").
func (r *Runtime) plimsollPods(ctx context.Context, runID string) ([]corev1.Pod, error) {
	op, vals := selection.Exists, []string(nil)
	if runID != "" {
		op, vals = selection.Equals, []string{runID}
	}
	req, err := labels.NewRequirement(runtime.LabelRun, op, vals)
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", runID, err)
	}
	list, err := r.client.CoreV1().Pods(r.o.namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.NewSelector().Add(*req).String()})
	if err != nil {
		return nil, fmt.Errorf("list plimsoll pods in namespace %s: %w", r.o.namespace, err)
	}
	return list.Items, nil
}

// deletePods deletes pods with no grace period and returns those it deleted; on error, those
// deleted so far.
func (r *Runtime) deletePods(ctx context.Context, pods []corev1.Pod) ([]string, error) {
	var deleted []string
	var errs []error
	zero := int64(0)
	for _, p := range pods {
		err := r.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		switch {
		case err == nil:
			r.o.log.Debug("deleted leftover pod", "pod", p.Name, "run", p.Labels[runtime.LabelRun])
			deleted = append(deleted, p.Namespace+"/"+p.Name)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		default:
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return deleted, errors.Join(errs...)
}
