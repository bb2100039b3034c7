package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// Sentinel errors of waiting for a rollout.
var (
	// ErrProgressDeadline: the Deployment exceeded its progressDeadlineSeconds without
	// progress (the controller's ProgressDeadlineExceeded condition).
	ErrProgressDeadline = errors.New("progress deadline exceeded")
	// ErrRolloutTimeout: the caller's context ended before the rollout finished; the error
	// also wraps the context's error.
	ErrRolloutTimeout = errors.New("rollout did not finish in time")
	// ErrDeploymentGone: the Deployment was deleted while waiting.
	ErrDeploymentGone = errors.New("deployment deleted")
)

// Status is a Deployment's rollout state, in the words of `kubectl rollout status`.
type Status struct {
	Done    bool
	Message string
}

// RolloutStatus says whether d's rollout is complete, with `kubectl rollout status`'s
// messages, or returns ErrProgressDeadline when the Deployment exceeded its progress deadline.
//
// It differs from kubectl in one way, for rollbacks: the deployment controller keeps a
// ProgressDeadlineExceeded condition left by a failed release until the next release makes
// progress, so kubectl reports the failed release's deadline right after `rollout undo`. A
// condition last updated before since (the start of the wait; zero = always trust it) is
// taken as stale: the wait then fails only when since+progressDeadlineSeconds passes (now).
func RolloutStatus(d *appsv1.Deployment, since, now time.Time) (Status, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return Status{Message: "Waiting for deployment spec update to be observed..."}, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type != appsv1.DeploymentProgressing || c.Reason != "ProgressDeadlineExceeded" {
			continue
		}
		stale := !since.IsZero() && c.LastUpdateTime.Time.Before(since.Truncate(time.Second))
		if !stale || (d.Spec.ProgressDeadlineSeconds != nil && now.Sub(since) > time.Duration(*d.Spec.ProgressDeadlineSeconds)*time.Second) {
			return Status{}, fmt.Errorf("%w: deployment %q exceeded its progress deadline", ErrProgressDeadline, d.Name)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return Status{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, s.UpdatedReplicas, want)}, nil
	case s.Replicas > s.UpdatedReplicas:
		return Status{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, s.Replicas-s.UpdatedReplicas)}, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return Status{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, s.AvailableReplicas, s.UpdatedReplicas)}, nil
	}
	return Status{Done: true, Message: fmt.Sprintf("deployment %q successfully rolled out", d.Name)}, nil
}

// WaitForRollout waits until the Deployment's rollout is complete (RolloutStatus) and returns
// the Deployment as it then is. It watches the Deployment and re-reads it at least every
// second. since is passed to RolloutStatus (zero for plain `kubectl rollout status`); progress,
// when not nil, gets each new status message. The wait ends with ErrProgressDeadline, with
// ErrRolloutTimeout when ctx ends first, or with ErrDeploymentGone.
func WaitForRollout(ctx context.Context, c kubernetes.Interface, ns, name string, since time.Time, progress func(string)) (*appsv1.Deployment, error) {
	api := c.AppsV1().Deployments(ns)
	last := ""
	check := func(d *appsv1.Deployment) (bool, error) {
		st, err := RolloutStatus(d, since, time.Now())
		if err != nil {
			return false, err
		}
		if st.Message != last {
			last = st.Message
			if progress != nil {
				progress(st.Message)
			}
		}
		return st.Done, nil
	}
	timeout := func() error {
		return fmt.Errorf("%w: deployment %s/%s: %s: %w", ErrRolloutTimeout, ns, name, last, ctx.Err())
	}
	for {
		d, err := api.Get(ctx, name, metav1.GetOptions{})
		if ctx.Err() != nil {
			return nil, timeout()
		}
		if err != nil {
			return nil, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
		}
		if done, err := check(d); done || err != nil {
			return d, err
		}
		w, err := api.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: d.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, timeout()
			}
			// A watch may be refused (or not allowed): fall back to reading again.
			select {
			case <-ctx.Done():
				return nil, timeout()
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		d, done, err := drain(ctx, w, check)
		w.Stop()
		switch {
		case err != nil:
			return d, err
		case done:
			return d, nil
		case ctx.Err() != nil:
			return nil, timeout()
		}
	}
}

// drain reads watch events until the rollout is done, the watch ends, a second passes without
// an answer (the caller reads again) or ctx ends.
func drain(ctx context.Context, w watch.Interface, check func(*appsv1.Deployment) (bool, error)) (*appsv1.Deployment, bool, error) {
	tick := time.NewTimer(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false, nil
		case <-tick.C:
			return nil, false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, false, nil
			}
			d, isDeploy := ev.Object.(*appsv1.Deployment)
			switch {
			case ev.Type == watch.Deleted:
				return nil, false, fmt.Errorf("%w while waiting for its rollout", ErrDeploymentGone)
			case !isDeploy:
				return nil, false, nil // a watch error: read again
			}
			done, err := check(d)
			if done || err != nil {
				return d, done, err
			}
		}
	}
}

// podReady reports whether the pod's Ready condition is true.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pullPoll is how often waitOrPullFailure looks at the pods of the new ReplicaSet.
const pullPoll = 500 * time.Millisecond

// waitOrPullFailure is WaitForRollout (no progress function) that also ends when the pods of
// the Deployment's new ReplicaSet cannot get their image and none of them is Ready
// (stuckOnPull, looked at every pullPoll): it then returns those failures and no error. A
// finished rollout wins over failures seen at the same time. Errors reading the pods are
// logged and the next look tries again.
func waitOrPullFailure(ctx context.Context, c kubernetes.Interface, ns, name string, since time.Time, log *slog.Logger) (*appsv1.Deployment, []PullFailure, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failures []PullFailure
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			f, err := newReplicaSetPullFailures(wctx, c, ns, name)
			switch {
			case len(f) > 0:
				failures = f
				cancel()
				return
			case err != nil && wctx.Err() == nil:
				log.Debug("could not look for image pull failures", "deployment", ns+"/"+name, "err", err)
			}
			select {
			case <-wctx.Done():
				return
			case <-time.After(pullPoll):
			}
		}
	}()
	d, err := WaitForRollout(wctx, c, ns, name, since, nil)
	cancel()
	<-watched
	if err != nil && len(failures) > 0 {
		return nil, failures, nil
	}
	return d, nil, err
}

// newReplicaSetPullFailures reads Deployment ns/name, its new ReplicaSet (the one running its
// current template) and that ReplicaSet's pods, and returns stuckOnPull of them; nil while
// the ReplicaSet does not exist yet.
func newReplicaSetPullFailures(ctx context.Context, c kubernetes.Interface, ns, name string) ([]PullFailure, error) {
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	rs, pods, err := currentPods(ctx, c, d)
	if err != nil || rs == nil {
		return nil, err
	}
	return stuckOnPull(pods), nil
}

// currentPods returns the ReplicaSet d controls that runs d's template, and its live pods
// (controlled by it and not being deleted); a nil ReplicaSet when none runs it yet.
func currentPods(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) (*appsv1.ReplicaSet, []corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s/%s: selector: %w", d.Namespace, d.Name, err)
	}
	rss, err := c.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("list replica sets of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	var rs *appsv1.ReplicaSet
	for i := range rss.Items {
		r := &rss.Items[i]
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == d.UID && equalIgnoreHash(&r.Spec.Template, &d.Spec.Template) {
			rs = r
			break
		}
	}
	if rs == nil {
		return nil, nil, nil
	}
	if sel, err = metav1.LabelSelectorAsSelector(rs.Spec.Selector); err != nil {
		return nil, nil, fmt.Errorf("replica set %s: selector: %w", rs.Name, err)
	}
	pods, err := c.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("list pods of replica set %s: %w", rs.Name, err)
	}
	return rs, livePods(rs, pods.Items), nil
}

// livePods are the pods rs controls that are not being deleted.
func livePods(rs *appsv1.ReplicaSet, pods []corev1.Pod) []corev1.Pod {
	var live []corev1.Pod
	for i := range pods {
		p := &pods[i]
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == rs.UID && p.DeletionTimestamp == nil {
			live = append(live, *p)
		}
	}
	return live
}

// stuckOnPull returns the pull failures of a ReplicaSet's live pods, or nil when one of
// them is Ready (the image can be pulled somewhere, the rollout may still progress).
func stuckOnPull(pods []corev1.Pod) []PullFailure {
	for i := range pods {
		if podReady(&pods[i]) {
			return nil
		}
	}
	return podPullFailures(pods)
}
