package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Annotations plimsoll reads and writes.
const (
	// RevisionAnnotation is the deployment controller's revision number of a ReplicaSet.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// ChangeCauseAnnotation is what `kubectl rollout history` shows as CHANGE-CAUSE.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// MigrationAnnotation, on a Deployment's pod template, names the schema migration that
	// release applied ("2026_11_add_orders_idx"). Rollback refuses, without Force, to go back
	// past a revision that applied a migration the target revision does not carry.
	MigrationAnnotation = "plimsoll.dev/migration"
)

// Sentinel errors of revision selection.
var (
	// ErrRevisionNotFound: the requested revision is not in the Deployment's history.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrNoHistory: there is no revision before the current one to roll back to.
	ErrNoHistory = errors.New("no rollout history")
)

// Revision is one entry of a Deployment's rollout history: one ReplicaSet it owns.
type Revision struct {
	Number      int64
	ReplicaSet  string
	Images      []string // the images of the pod template's containers, in order
	Migration   string   // the pod template's MigrationAnnotation, "" when none
	ChangeCause string
	// Current is true for the revision whose template the Deployment has now.
	Current  bool
	Template corev1.PodTemplateSpec

	annotations map[string]string // the ReplicaSet's, which a rollback restores
}

// Image is the revision's images joined with ",": what a one-line report shows.
func (r Revision) Image() string { return strings.Join(r.Images, ",") }

// History returns the Deployment and its revisions (the ReplicaSets it controls that carry
// a revision number), oldest first, as `kubectl rollout history` lists them.
func History(ctx context.Context, c kubernetes.Interface, ns, name string) (*appsv1.Deployment, []Revision, error) {
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	revs, err := history(ctx, c, d)
	return d, revs, err
}

func history(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) ([]Revision, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: selector: %w", d.Namespace, d.Name, err)
	}
	list, err := c.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list replica sets of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return revisions(d, list.Items), nil
}

// revisions picks the ReplicaSets d controls that carry a revision number, oldest first.
func revisions(d *appsv1.Deployment, rss []appsv1.ReplicaSet) []Revision {
	var out []Revision
	for i := range rss {
		rs := &rss[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
		if err != nil {
			continue // kubectl skips a ReplicaSet without a readable revision too
		}
		r := Revision{
			Number:      n,
			ReplicaSet:  rs.Name,
			Migration:   rs.Spec.Template.Annotations[MigrationAnnotation],
			ChangeCause: rs.Annotations[ChangeCauseAnnotation],
			Current:     equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template),
			Template:    *rs.Spec.Template.DeepCopy(),
			annotations: rs.Annotations,
		}
		for _, ctr := range rs.Spec.Template.Spec.Containers {
			r.Images = append(r.Images, ctr.Image)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// pickRevision chooses the revision to roll back to, as `kubectl rollout undo` does: to > 0
// is that revision; to == 0 is the previous one, the second-highest revision number.
func pickRevision(name string, revs []Revision, to int64) (Revision, error) {
	if to < 0 {
		return Revision{}, revisionNotFound(to)
	}
	if to > 0 {
		for _, r := range revs {
			if r.Number == to {
				return r, nil
			}
		}
		return Revision{}, revisionNotFound(to)
	}
	if len(revs) < 2 { // revs is sorted: the previous revision is the one before the last
		return Revision{}, sentinelError{fmt.Sprintf("no rollout history found for deployment %q", name), ErrNoHistory}
	}
	return revs[len(revs)-2], nil
}

func revisionNotFound(to int64) error {
	return sentinelError{fmt.Sprintf("unable to find specified revision %d in history", to), ErrRevisionNotFound}
}

// sentinelError reads as kubectl's message and is its sentinel for errors.Is.
type sentinelError struct {
	msg string
	is  error
}

func (e sentinelError) Error() string { return e.msg }
func (e sentinelError) Unwrap() error { return e.is }

// migrationBlock returns the revisions newer than target that applied a schema migration the
// target does not carry: rolling back to target would run code older than the schema.
func migrationBlock(revs []Revision, target Revision) []Revision {
	var out []Revision
	for _, r := range revs {
		if r.Number > target.Number && r.Migration != "" && r.Migration != target.Migration {
			out = append(out, r)
		}
	}
	return out
}

// equalIgnoreHash compares two pod templates, ignoring the pod-template-hash label the
// deployment controller adds to its ReplicaSets' templates.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}
