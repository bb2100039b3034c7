package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/plimsoll/plimsoll/internal/kube"
)

// Workload is the pair of Deployments a rollout moves between: the primary, which serves
// traffic before and after, and the canary (green), which runs the new image meanwhile.
//
// Every method is idempotent. Prepare must come first.
type Workload interface {
	// Prepare creates or updates the canary from the primary's pod template with image,
	// at zero replicas, and reports the primary.
	Prepare(ctx context.Context, image string) (PrimaryInfo, error)
	// Observe reads both Deployments.
	Observe(ctx context.Context) (WorkloadStatus, error)
	// ScaleCanary sets the canary's replicas.
	ScaleCanary(ctx context.Context, n int32) error
	// Promote copies the canary's pod spec to the primary (which then rolls out).
	Promote(ctx context.Context) error
	// SetCanaryImage changes the canary's image (a registry fallback).
	SetCanaryImage(ctx context.Context, image string) error
}

// PrimaryInfo describes the primary when a rollout begins.
type PrimaryInfo struct {
	Replicas int32
	Image    string // the image the rollout replaces
}

// WorkloadStatus is one observation of the two Deployments.
type WorkloadStatus struct {
	CanaryReplicas int32
	CanaryReady    bool
	PrimaryReady   bool
	// CanaryPullFailures are the canary's containers that cannot get the canary's image
	// (looked for only while the canary is not Ready).
	CanaryPullFailures []kube.PullFailure
}

// CanarySuffix names the canary Deployment, Service and Ingress after the primary's.
const CanarySuffix = "-canary"

// imageAnnotation on the canary Deployment names the image it was made for.
const imageAnnotation = "plimsoll.dev/image"

// ErrUnsupported is returned (wrapped) for a workload or route plimsoll cannot split:
// a selector with expressions, several containers and none named, a label too long.
var ErrUnsupported = errors.New("unsupported")

// canaryLabels gives the canary's labels: every value of m with CanarySuffix, so that the
// primary's selectors never match canary pods and the canary's selectors never match the
// primary's.
func canaryLabels(m map[string]string) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if strings.HasSuffix(v, CanarySuffix) {
			out[k] = v
			continue
		}
		c := v + CanarySuffix
		if errs := validation.IsValidLabelValue(c); len(errs) > 0 {
			return nil, fmt.Errorf("%w: label %s=%s cannot take the suffix %s: %s", ErrUnsupported, k, v, CanarySuffix, strings.Join(errs, "; "))
		}
		out[k] = c
	}
	return out, nil
}

// Deployments is the Workload of a Deployment NAME and its canary Deployment NAME-canary.
type Deployments struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Container is the container whose image changes; "" means the only one.
	Container string
}

// CanaryName is the canary Deployment's name.
func (d *Deployments) CanaryName() string { return d.Name + CanarySuffix }

// Prepare implements Workload.
func (d *Deployments) Prepare(ctx context.Context, image string) (PrimaryInfo, error) {
	api := d.Client.AppsV1().Deployments(d.Namespace)
	primary, err := api.Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return PrimaryInfo{}, fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if primary.Spec.Selector == nil || len(primary.Spec.Selector.MatchExpressions) > 0 || len(primary.Spec.Selector.MatchLabels) == 0 {
		return PrimaryInfo{}, fmt.Errorf("%w: deployment %s selects pods by expressions; plimsoll needs matchLabels only", ErrUnsupported, d.Name)
	}
	idx, err := containerIndex(primary, d.Container)
	if err != nil {
		return PrimaryInfo{}, err
	}
	info := PrimaryInfo{Replicas: 1, Image: primary.Spec.Template.Spec.Containers[idx].Image}
	if primary.Spec.Replicas != nil {
		info.Replicas = *primary.Spec.Replicas
	}
	sel, err := canaryLabels(primary.Spec.Selector.MatchLabels)
	if err != nil {
		return PrimaryInfo{}, err
	}
	podLabels, err := canaryLabels(primary.Spec.Template.Labels)
	if err != nil {
		return PrimaryInfo{}, err
	}
	tmpl := *primary.Spec.Template.DeepCopy()
	tmpl.Labels = podLabels
	tmpl.Spec.Containers[idx].Image = image
	zero := int32(0)
	want := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.CanaryName(), Namespace: d.Namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "plimsoll", "plimsoll.dev/primary": d.Name},
			Annotations: map[string]string{imageAnnotation: image},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &zero,
			Selector:                &metav1.LabelSelector{MatchLabels: sel},
			Template:                tmpl,
			Strategy:                primary.Spec.Strategy,
			MinReadySeconds:         primary.Spec.MinReadySeconds,
			ProgressDeadlineSeconds: primary.Spec.ProgressDeadlineSeconds,
		},
	}
	_, err = api.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !maps.Equal(cur.Spec.Selector.MatchLabels, sel) || len(cur.Spec.Selector.MatchExpressions) > 0 {
				return fmt.Errorf("%w: deployment %s exists with selector %v, want %v: delete it", ErrUnsupported, want.Name, cur.Spec.Selector.MatchLabels, sel)
			}
			cur.Labels, cur.Annotations = want.Labels, want.Annotations
			cur.Spec = want.Spec
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return PrimaryInfo{}, fmt.Errorf("preparing deployment %s/%s: %w", d.Namespace, want.Name, err)
	}
	return info, nil
}

func containerIndex(dep *appsv1.Deployment, name string) (int, error) {
	cs := dep.Spec.Template.Spec.Containers
	if name == "" {
		if len(cs) != 1 {
			return 0, fmt.Errorf("%w: deployment %s has %d containers: name the one to change", ErrUnsupported, dep.Name, len(cs))
		}
		return 0, nil
	}
	for i, c := range cs {
		if c.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("deployment %s has no container %q", dep.Name, name)
}

// Observe implements Workload.
func (d *Deployments) Observe(ctx context.Context) (WorkloadStatus, error) {
	api := d.Client.AppsV1().Deployments(d.Namespace)
	canary, err := api.Get(ctx, d.CanaryName(), metav1.GetOptions{})
	if err != nil {
		return WorkloadStatus{}, fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, d.CanaryName(), err)
	}
	primary, err := api.Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return WorkloadStatus{}, fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	var st WorkloadStatus
	if canary.Spec.Replicas != nil {
		st.CanaryReplicas = *canary.Spec.Replicas
	}
	st.CanaryReady = rolledOut(canary)
	st.PrimaryReady = rolledOut(primary)
	if !st.CanaryReady && st.CanaryReplicas > 0 {
		idx, err := containerIndex(canary, d.Container)
		if err != nil {
			return WorkloadStatus{}, err
		}
		failures, err := kube.PullFailures(ctx, d.Client, d.Namespace, canary.Spec.Selector)
		if err != nil {
			return WorkloadStatus{}, err
		}
		// Pods of an image the canary no longer runs (before a fallback) are on their way out.
		img := canary.Spec.Template.Spec.Containers[idx].Image
		for _, f := range failures {
			if f.Image == img {
				st.CanaryPullFailures = append(st.CanaryPullFailures, f)
			}
		}
	}
	return st, nil
}

// SetCanaryImage implements Workload.
func (d *Deployments) SetCanaryImage(ctx context.Context, image string) error {
	api := d.Client.AppsV1().Deployments(d.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		canary, err := api.Get(ctx, d.CanaryName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		idx, err := containerIndex(canary, d.Container)
		if err != nil {
			return err
		}
		canary.Spec.Template.Spec.Containers[idx].Image = image
		metav1.SetMetaDataAnnotation(&canary.ObjectMeta, imageAnnotation, image)
		_, err = api.Update(ctx, canary, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("setting the image of deployment %s/%s to %s: %w", d.Namespace, d.CanaryName(), image, err)
	}
	return nil
}

// rolledOut is `kubectl rollout status` done; a deadline exceeded is simply not done: the
// step function has its own timeout.
func rolledOut(dep *appsv1.Deployment) bool {
	s, err := kube.RolloutStatus(dep, time.Time{}, time.Time{})
	return err == nil && s.Done
}

// ScaleCanary implements Workload.
func (d *Deployments) ScaleCanary(ctx context.Context, n int32) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
	if err != nil {
		return err
	}
	if _, err := d.Client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.CanaryName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scaling deployment %s/%s to %d: %w", d.Namespace, d.CanaryName(), n, err)
	}
	return nil
}

// Promote implements Workload: the primary gets the canary's pod spec and keeps its own
// labels.
func (d *Deployments) Promote(ctx context.Context) error {
	api := d.Client.AppsV1().Deployments(d.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		canary, err := api.Get(ctx, d.CanaryName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		primary, err := api.Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		primary.Spec.Template.Spec = *canary.Spec.Template.Spec.DeepCopy()
		_, err = api.Update(ctx, primary, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("promoting %s/%s: %w", d.Namespace, d.Name, err)
	}
	return nil
}

// Images returns the images of the primary's and the canary's container.
func (d *Deployments) Images(ctx context.Context) (primary, canary string, err error) {
	api := d.Client.AppsV1().Deployments(d.Namespace)
	for _, x := range []struct {
		name string
		dst  *string
	}{{d.Name, &primary}, {d.CanaryName(), &canary}} {
		dep, err := api.Get(ctx, x.name, metav1.GetOptions{})
		if err != nil {
			return "", "", fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, x.name, err)
		}
		i, err := containerIndex(dep, d.Container)
		if err != nil {
			return "", "", err
		}
		*x.dst = dep.Spec.Template.Spec.Containers[i].Image
	}
	return primary, canary, nil
}
