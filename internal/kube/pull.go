package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// ErrImagePull: a workload's pods cannot get their image (wrapped; the CLI maps it).
var ErrImagePull = errors.New("image cannot be pulled")

// pullReasons are the reasons a kubelet gives a container waiting for an image it cannot
// get (k8s.io/kubernetes/pkg/kubelet/images and the CRI errors it passes on).
var pullReasons = map[string]bool{
	"ErrImagePull":              true,
	"ImagePullBackOff":          true,
	"InvalidImageName":          true,
	"ErrImageNeverPull":         true,
	"ImageInspectError":         true,
	"RegistryUnavailable":       true,
	"SignatureValidationFailed": true,
}

// PullFailure is one container that cannot get its image.
type PullFailure struct{ Pod, Container, Image, Reason, Message string }

// String reads `image "X" cannot be pulled: ImagePullBackOff (Back-off pulling image "X")
// (pod P, container C)`; the kubelet's message is left out when it has none.
func (f PullFailure) String() string {
	msg := ""
	if f.Message != "" {
		msg = " (" + f.Message + ")"
	}
	return fmt.Sprintf("image %q cannot be pulled: %s%s (pod %s, container %s)", f.Image, f.Reason, msg, f.Pod, f.Container)
}

// pullError is an ErrImagePull error: the first failure, how many more, and why no fallback
// helped when why is not nil (also wrapped).
func pullError(failures []PullFailure, why error) error {
	return &pullErr{failures: failures, why: why}
}

type pullErr struct {
	failures []PullFailure
	why      error
}

func (e *pullErr) Error() string {
	msg := e.failures[0].String()
	if len(e.failures) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(e.failures)-1)
	}
	if e.why != nil {
		msg += "; " + e.why.Error()
	}
	return msg
}

func (e *pullErr) Unwrap() []error {
	if e.why == nil {
		return []error{ErrImagePull}
	}
	return []error{ErrImagePull, e.why}
}

// PullFailures lists the pull failures of the pods sel selects in ns (nil selects every pod),
// containers and init containers, sorted by pod then container. A pull failure is a
// container waiting with one of the kubelet's image reasons: ErrImagePull, ImagePullBackOff,
// InvalidImageName, ErrImageNeverPull, ImageInspectError, RegistryUnavailable,
// SignatureValidationFailed. Pods being deleted are left out.
func PullFailures(ctx context.Context, c kubernetes.Interface, ns string, sel *metav1.LabelSelector) ([]PullFailure, error) {
	s := labels.Everything()
	if sel != nil {
		var err error
		if s, err = metav1.LabelSelectorAsSelector(sel); err != nil {
			return nil, fmt.Errorf("pull failures in %s: selector: %w", ns, err)
		}
	}
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return nil, fmt.Errorf("pull failures: list pods in %s (%s): %w", ns, s, err)
	}
	return podPullFailures(pods.Items), nil
}

// podPullFailures is PullFailures of pods already read.
func podPullFailures(pods []corev1.Pod) []PullFailure {
	var out []PullFailure
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		specImage := map[string]string{}
		for _, ctr := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			specImage[ctr.Name] = ctr.Image
		}
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil || !pullReasons[w.Reason] {
				continue
			}
			img := specImage[cs.Name]
			if img == "" {
				img = cs.Image
			}
			out = append(out, PullFailure{Pod: p.Name, Container: cs.Name, Image: img, Reason: w.Reason, Message: w.Message})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pod != out[j].Pod {
			return out[i].Pod < out[j].Pod
		}
		return out[i].Container < out[j].Container
	})
	return out
}
