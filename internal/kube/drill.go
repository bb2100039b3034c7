package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ErrDrillFailed: the rollback drill did not bring the original image back, Ready.
var ErrDrillFailed = errors.New("rollback drill failed")

// DrillOptions say how a rollback drill goes.
type DrillOptions struct {
	// Image is the release to roll out and back (v2); Container is the container to set it
	// on ("" = the only container).
	Image, Container string
	// HealthURL, HTTPClient, Progress and Logger are as in RollbackOptions.
	HealthURL  string
	HTTPClient *http.Client
	Progress   func(what string)
	Logger     *slog.Logger
}

// DrillResult is what a drill did.
type DrillResult struct {
	// V1 is the image that ran before the drill, V2 the one rolled out.
	V1, V2 string
	// V2Available is false when v2 never became Available (the rollback is drilled anyway);
	// V2Err says why.
	V2Available bool
	V2Err       string
	// Rollback is the rollback back to v1.
	Rollback RollbackResult
	// Restored: v1 runs again, every pod of it Ready.
	Restored bool
	Total    time.Duration
}

// Drill exercises the rollback path of Deployment ns/name, as the release procedure would
// in a real incident: it records the image running now (v1), sets opts.Image (v2) and waits
// for that rollout, rolls back to v1's revision with Rollback (wait and verification
// included), and confirms v1 runs again. A drill whose rollback does not restore v1 ends with
// ErrDrillFailed (or the rollback's own error); ctx carries the time limit.
func Drill(ctx context.Context, c kubernetes.Interface, ns, name string, opts DrillOptions) (DrillResult, error) {
	start := time.Now()
	note := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	res := DrillResult{V2: opts.Image}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	ctr, err := pickContainer(d, opts.Container)
	if err != nil {
		return res, err
	}
	res.V1 = d.Spec.Template.Spec.Containers[ctr].Image
	cname := d.Spec.Template.Spec.Containers[ctr].Name
	if res.V1 == opts.Image {
		return res, fmt.Errorf("drill deployment %q: it already runs %s; give another image", name, opts.Image)
	}
	if d.Spec.Paused {
		return res, fmt.Errorf("%w: you cannot drill a paused deployment", ErrPaused)
	}
	v1Rev, err := strconv.ParseInt(d.Annotations[RevisionAnnotation], 10, 64)
	if err != nil || v1Rev == 0 {
		return res, fmt.Errorf("drill deployment %q: it has no revision yet (annotation %s): wait for its first rollout", name, RevisionAnnotation)
	}
	if _, err := WaitForRollout(ctx, c, ns, name, time.Time{}, nil); err != nil {
		return res, fmt.Errorf("drill deployment %q: revision %d must be rolled out before the drill: %w", name, v1Rev, err)
	}
	note("drill of deploy/%s: v1 is %s (revision %d)", name, res.V1, v1Rev)

	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{ChangeCauseAnnotation: "plimsoll drill: set image " + cname + "=" + opts.Image}},
		"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []map[string]string{{"name": cname, "image": opts.Image}}}}},
	})
	if err != nil {
		return res, err
	}
	set := time.Now()
	if _, err := c.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return res, fmt.Errorf("drill: set image %s=%s on deployment %s/%s: %w", cname, opts.Image, ns, name, err)
	}
	note("set image %s=%s", cname, opts.Image)
	if _, err := WaitForRollout(ctx, c, ns, name, set, nil); err != nil {
		if !errors.Is(err, ErrProgressDeadline) {
			return res, fmt.Errorf("drill: rollout of %s: %w", opts.Image, err)
		}
		res.V2Err = err.Error()
		note("v2 did not become Available (%v); drilling the rollback anyway", err)
	} else {
		res.V2Available = true
		note("v2 %s Available after %s", opts.Image, time.Since(set).Round(time.Millisecond))
	}

	rb, err := Rollback(ctx, c, ns, name, RollbackOptions{ToRevision: v1Rev, Reason: "rollback drill", By: "plimsoll drill",
		HealthURL: opts.HealthURL, HTTPClient: opts.HTTPClient, Progress: opts.Progress, Logger: opts.Logger})
	res.Rollback = rb
	res.Total = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrDrillFailed, err)
	}
	after, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return res, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	if got := after.Spec.Template.Spec.Containers[ctr].Image; got != res.V1 {
		return res, fmt.Errorf("%w: deployment %q runs %s after the rollback, want %s", ErrDrillFailed, name, got, res.V1)
	}
	if err := podsRun(ctx, c, after, cname, res.V1); err != nil {
		return res, fmt.Errorf("%w: %w", ErrDrillFailed, err)
	}
	res.Restored = true
	res.Total = time.Since(start)
	note("v1 %s runs again: drill passed in %s", res.V1, res.Total.Round(time.Millisecond))
	return res, nil
}

func pickContainer(d *appsv1.Deployment, name string) (int, error) {
	cs := d.Spec.Template.Spec.Containers
	if name == "" {
		if len(cs) != 1 {
			return 0, fmt.Errorf("deployment %q has %d containers: name the one to drill", d.Name, len(cs))
		}
		return 0, nil
	}
	for i, c := range cs {
		if c.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("deployment %q has no container %q", d.Name, name)
}

// podsRun checks that the live pods of d's current ReplicaSet run image in container cname.
func podsRun(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, cname, image string) error {
	rs, pods, err := currentPods(ctx, c, d)
	if err != nil {
		return err
	}
	if rs == nil {
		return fmt.Errorf("no ReplicaSet runs the template of deployment %s", d.Name)
	}
	n := 0
	for i := range pods {
		p := &pods[i]
		if !podReady(p) || containerImage(p, cname) != image {
			return fmt.Errorf("pod %s: ready=%v image %s, want Ready with %s", p.Name, podReady(p), containerImage(p, cname), image)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no pod of replica set %s runs", rs.Name)
	}
	return nil
}

func containerImage(p *corev1.Pod, name string) string {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}
