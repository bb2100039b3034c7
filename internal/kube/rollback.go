package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Audit annotations Rollback writes on the Deployment it rolled back.
const (
	AnnotationRolledBackTo = "plimsoll.dev/rolled-back-to-revision"
	AnnotationReason       = "plimsoll.dev/rolled-back-reason"
	AnnotationAt           = "plimsoll.dev/rolled-back-at"
	AnnotationBy           = "plimsoll.dev/rolled-back-by"
	// AnnotationFallbackImage is the image Rollback set instead of one that could not be
	// pulled (RollbackOptions.OnPullFailure); absent when there was none.
	AnnotationFallbackImage = "plimsoll.dev/rolled-back-fallback-image"
)

// Sentinel errors of Rollback, for callers that branch.
var (
	// ErrPaused: a paused Deployment is not rolled back (kubectl refuses too).
	ErrPaused = errors.New("deployment is paused")
	// ErrMigrationGuard: the rollback would go back past a schema migration; see
	// MigrationAnnotation and RollbackOptions.Force.
	ErrMigrationGuard = errors.New("rollback past a schema migration")
	// ErrVerifyFailed: the rollback was applied and the rollout finished, but the pods or the
	// health URL are not healthy.
	ErrVerifyFailed = errors.New("rollback verification failed")
)

// RollbackOptions say how Rollback goes.
type RollbackOptions struct {
	// ToRevision is the revision to roll back to; 0 is the previous one.
	ToRevision int64
	// DryRun says what would happen and changes nothing (the patch is sent as a server-side
	// dry run, so it is validated).
	DryRun bool
	// Force rolls back past a revision that applied a schema migration.
	Force bool
	// Reason and By go into the audit annotations.
	Reason, By string
	// HealthURL, when set, must answer GET with 200 after the rollout; HTTPClient makes the
	// request (nil = a client with a 5 s timeout).
	HealthURL  string
	HTTPClient *http.Client
	// Progress, when set, is told each step (for an incident timeline and for a terminal).
	Progress func(what string)
	// Logger gets diagnostics; nil discards them.
	Logger *slog.Logger
	// OnPullFailure, when set, is asked once for another image when the pods of the restored
	// revision cannot pull image (the failing container's image in the template). A non-empty
	// answer is set on that container and the rollout is waited for again; an error or ""
	// makes Rollback fail with ErrImagePull.
	OnPullFailure func(ctx context.Context, image string, failures []PullFailure) (string, error)
}

// RollbackResult is what Rollback did to one Deployment.
type RollbackResult struct {
	Namespace, Name string
	// From is the revision the Deployment ran, To the one rolled back to; NewRevision is the
	// number the deployment controller gave the restored template (0 until it is known).
	From, To    Revision
	NewRevision int64
	// Applied: the Deployment was changed (the restored template was patched in).
	Applied bool
	// Skipped: the Deployment already runs To's template, nothing was changed.
	Skipped bool
	DryRun  bool
	// Message is one line in kubectl's words: "rolled back", "skipped rollback (…)", or what
	// a dry run would do.
	Message string
	// Attempts is how many times the patch was computed (more than 1 after conflicts with
	// concurrent updates).
	Attempts int
	// Forced lists the migrations rolled back past because of Force.
	Forced []string
	// Available is the time from the call to the rolled-back revision being Available;
	// ReadyPods the pods of it that were verified Ready.
	Available time.Duration
	ReadyPods int
	// Fallback is "IMAGE → FALLBACK" when OnPullFailure gave an image that was set instead of
	// one that could not be pulled.
	Fallback string
	// PullFailures are the containers that could not pull their image when Rollback failed
	// with ErrImagePull.
	PullFailures []PullFailure
}

// annotationsToSkip are kept from the Deployment and not copied from the ReplicaSet, as
// kubectl rollout undo does.
var annotationsToSkip = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	"deprecated.deployment.rollback.to":         true,
}

// conflictBackoff is how Rollback retries a patch refused because the Deployment changed
// under it (the controller's status writes change it too).
var conflictBackoff = wait.Backoff{Steps: 15, Duration: 20 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: 2 * time.Second}

// Rollback rolls Deployment ns/name back with `kubectl rollout undo`'s semantics, then waits
// for the rollout (WaitForRollout), verifies it and writes the audit annotations.
//
// The previous revision is the second-highest revision number among the ReplicaSets the
// Deployment controls; ToRevision picks one ("unable to find specified revision N in
// history" when it is not there). A paused Deployment is refused (ErrPaused); when the
// Deployment already runs the target's template the result is Skipped and nothing changes.
// Rolling back past a revision whose pod template carries MigrationAnnotation (a value the
// target does not carry) is refused with ErrMigrationGuard unless Force is set.
//
// The target's pod template (without the pod-template-hash label) and annotations are applied
// as one JSON patch with the Deployment's resourceVersion as a precondition: a concurrent
// update makes the patch fail as a whole and Rollback reads again and retries, keeping the
// target revision it chose first. The wait fails with ErrProgressDeadline or
// ErrRolloutTimeout (ctx carries the time limit), or, within about a second of the kubelet
// reporting it, with ErrImagePull when the restored revision's pods cannot pull their image
// and none of them is Ready; OnPullFailure may then name another image, which is set on the
// failing container (a patch of that image alone, with the same precondition and retries)
// and waited for with the time left. Verification (the new ReplicaSet's pods
// are Ready and none is crash-looping; HealthURL answers 200) fails with ErrVerifyFailed. The
// result is returned, as far as it got, with every error.
func Rollback(ctx context.Context, c kubernetes.Interface, ns, name string, opts RollbackOptions) (RollbackResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		log.Debug(msg, "deployment", ns+"/"+name)
		if opts.Progress != nil {
			opts.Progress(msg)
		}
	}
	res := RollbackResult{Namespace: ns, Name: name, DryRun: opts.DryRun}
	api := c.AppsV1().Deployments(ns)
	pinned := opts.ToRevision
	var (
		revs []Revision
		seen *corev1.PodTemplateSpec // the template revs was read against
	)
	err := retry.OnError(conflictBackoff, isConflict, func() error {
		res.Attempts++
		d, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
		}
		// The ReplicaSets change only when the template does: a retry after a write that
		// left the template alone reads the Deployment alone, which keeps the window
		// between read and patch short against a busy writer.
		if seen == nil || !equalIgnoreHash(seen, &d.Spec.Template) {
			if revs, err = history(ctx, c, d); err != nil {
				return err
			}
			seen = d.Spec.Template.DeepCopy()
		}
		target, err := pickRevision(name, revs, pinned)
		if err != nil {
			return err
		}
		pinned = target.Number
		res.To, res.From = target, current(d, revs)
		if d.Spec.Paused {
			return fmt.Errorf("%w: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again", ErrPaused)
		}
		if blocked := migrationBlock(revs, target); len(blocked) > 0 {
			if !opts.Force {
				return migrationError(name, target, blocked)
			}
			res.Forced = res.Forced[:0]
			for _, b := range blocked {
				res.Forced = append(res.Forced, fmt.Sprintf("%s (revision %d)", b.Migration, b.Number))
			}
		}
		if equalIgnoreHash(&target.Template, &d.Spec.Template) {
			res.Skipped = true
			res.Message = fmt.Sprintf("skipped rollback (current template already matches revision %d)", target.Number)
			return nil
		}
		patch, err := undoPatch(d, target)
		if err != nil {
			return fmt.Errorf("failed restoring revision %d: %w", target.Number, err)
		}
		po := metav1.PatchOptions{}
		if opts.DryRun {
			po.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := api.Patch(ctx, name, types.JSONPatchType, patch, po); err != nil {
			if isConflict(err) {
				note("deployment %s changed while rolling back (attempt %d); reading it again", name, res.Attempts)
			}
			return fmt.Errorf("failed restoring revision %d: %w", target.Number, err)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("roll back deployment %s/%s: %w", ns, name, err)
	}
	for _, f := range res.Forced {
		note("forced past schema migration %s", f)
	}
	switch {
	case res.Skipped:
		note("deployment %s: %s", name, res.Message)
		return res, nil
	case opts.DryRun:
		res.Message = fmt.Sprintf("would roll back from revision %d (%s) to revision %d (%s)", res.From.Number, res.From.Image(), res.To.Number, res.To.Image())
		note("dry run: deployment %s %s", name, res.Message)
		return res, nil
	}
	res.Applied, res.Message = true, "rolled back"
	patched := time.Now()
	note("patched deployment %s to the template of revision %d (%s), attempt %d", name, res.To.Number, res.To.Image(), res.Attempts)

	d, failures, werr := waitOrPullFailure(ctx, c, ns, name, patched, log)
	if len(failures) > 0 {
		d, werr = res.pullFailed(ctx, c, failures, opts, note, log)
	}
	if werr == nil {
		res.Available = time.Since(start)
		res.NewRevision, _ = strconv.ParseInt(d.Annotations[RevisionAnnotation], 10, 64)
		note("deployment %s: revision %d (restored revision %d) Available after %s", name, res.NewRevision, res.To.Number, res.Available.Round(time.Millisecond))
		var n int
		n, werr = verify(ctx, c, d, opts)
		res.ReadyPods = n
		if werr == nil {
			note("deployment %s verified: %d pods Ready, none crash-looping%s", name, n, healthNote(opts.HealthURL))
		}
	}
	if werr != nil {
		note("deployment %s: %v", name, werr)
	}
	// The audit trail is written whatever the outcome: the Deployment was changed.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := annotate(actx, c, ns, name, res, opts, time.Now()); err != nil {
		return res, errors.Join(werr, err)
	}
	if werr != nil {
		return res, fmt.Errorf("roll back deployment %s/%s: %w", ns, name, werr)
	}
	return res, nil
}

func healthNote(url string) string {
	if url == "" {
		return ""
	}
	return ", " + url + " answered 200"
}

func isConflict(err error) bool {
	var s interface{ Status() metav1.Status }
	return errors.As(err, &s) && s.Status().Reason == metav1.StatusReasonConflict
}

// current is the revision whose template the Deployment runs; a Deployment whose template
// has no ReplicaSet yet is described from its own template and revision annotation.
func current(d *appsv1.Deployment, revs []Revision) Revision {
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Current {
			return revs[i]
		}
	}
	r := Revision{Current: true, Template: *d.Spec.Template.DeepCopy(), Migration: d.Spec.Template.Annotations[MigrationAnnotation]}
	r.Number, _ = strconv.ParseInt(d.Annotations[RevisionAnnotation], 10, 64)
	for _, ctr := range d.Spec.Template.Spec.Containers {
		r.Images = append(r.Images, ctr.Image)
	}
	return r
}

func migrationError(name string, target Revision, blocked []Revision) error {
	var parts []string
	for _, b := range blocked {
		parts = append(parts, fmt.Sprintf("revision %d applied schema migration %q", b.Number, b.Migration))
	}
	have := "no migration"
	if target.Migration != "" {
		have = fmt.Sprintf("migration %q", target.Migration)
	}
	return fmt.Errorf("%w: refusing to roll deployment %q back to revision %d (%s): %s; revision %d's code may not work with that schema; roll the schema back first or pass --force",
		ErrMigrationGuard, name, target.Number, have, strings.Join(parts, ", "), target.Number)
}

// undoPatch is kubectl rollout undo's patch (the target's template without the
// pod-template-hash label; the ReplicaSet's annotations plus the Deployment's own
// bookkeeping ones) with the Deployment's resourceVersion as a precondition.
func undoPatch(d *appsv1.Deployment, target Revision) ([]byte, error) {
	tmpl := target.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	annotations := map[string]string{}
	for k := range annotationsToSkip {
		if v, ok := d.Annotations[k]; ok {
			annotations[k] = v
		}
	}
	for k, v := range target.annotations {
		if !annotationsToSkip[k] {
			annotations[k] = v
		}
	}
	ops := []map[string]any{
		{"op": "replace", "path": "/spec/template", "value": tmpl},
		{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	}
	if d.ResourceVersion != "" {
		ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/resourceVersion", "value": d.ResourceVersion})
	}
	return json.Marshal(ops)
}

// verify checks the pods of the ReplicaSet that runs d's template: at least d's replicas of
// them, every one Ready and no container waiting in CrashLoopBackOff; then the health URL.
func verify(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, opts RollbackOptions) (int, error) {
	rs, pods, err := currentPods(ctx, c, d)
	if err != nil {
		return 0, err
	}
	if rs == nil {
		return 0, fmt.Errorf("%w: no ReplicaSet runs the template of deployment %q", ErrVerifyFailed, d.Name)
	}
	n, problems := checkPods(pods)
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if int32(n) < want {
		problems = append(problems, fmt.Sprintf("%d of %d pods Ready", n, want))
	}
	if len(problems) > 0 {
		return n, fmt.Errorf("%w: deployment %q: %s", ErrVerifyFailed, d.Name, strings.Join(problems, "; "))
	}
	if opts.HealthURL != "" {
		if err := health(ctx, opts); err != nil {
			return n, fmt.Errorf("%w: deployment %q: %w", ErrVerifyFailed, d.Name, err)
		}
	}
	return n, nil
}

// checkPods counts the live pods of a ReplicaSet that are Ready and lists what is wrong with
// the others.
func checkPods(pods []corev1.Pod) (int, []string) {
	ready := 0
	var problems []string
	for i := range pods {
		p := &pods[i]
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
				problems = append(problems, fmt.Sprintf("pod %s: container %s is crash-looping (%d restarts)", p.Name, cs.Name, cs.RestartCount))
			}
		}
		if podReady(p) {
			ready++
		}
	}
	return ready, problems
}

// health GETs the health URL until it answers 200, for up to 10 s (less when ctx ends first).
func health(ctx context.Context, opts RollbackOptions) error {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.HealthURL, nil)
		if err != nil {
			return fmt.Errorf("health URL: %w", err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("health URL %s did not answer 200: %s", opts.HealthURL, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pullFailed handles the pull failures of the restored revision: it asks OnPullFailure for
// another image once, sets it and waits again, or returns the ErrImagePull error.
func (res *RollbackResult) pullFailed(ctx context.Context, c kubernetes.Interface, failures []PullFailure, opts RollbackOptions, note func(string, ...any), log *slog.Logger) (*appsv1.Deployment, error) {
	ns, name := res.Namespace, res.Name
	f := failures[0]
	image := templateImage(&res.To.Template, f.Container)
	if image == "" {
		image = f.Image
	}
	note("deployment %s: %s", name, f)
	if opts.OnPullFailure == nil {
		res.PullFailures = failures
		return nil, pullError(failures, nil)
	}
	alt, err := opts.OnPullFailure(ctx, image, failures)
	switch {
	case err != nil:
		res.PullFailures = failures
		return nil, pullError(failures, err) // the callback's error says what it offers or lacks
	case alt == "":
		res.PullFailures = failures
		return nil, pullError(failures, fmt.Errorf("no fallback for %s", image))
	}
	if err := setImage(ctx, c, ns, name, f.Container, image, alt, note); err != nil {
		res.PullFailures = failures
		return nil, errors.Join(pullError(failures, nil), fmt.Errorf("set fallback image %s: %w", alt, err))
	}
	res.Fallback = image + " → " + alt
	note("deployment %s: container %s falls back to %s", name, f.Container, res.Fallback)
	d, failures, err := waitOrPullFailure(ctx, c, ns, name, time.Now(), log)
	if len(failures) > 0 {
		res.PullFailures = failures
		note("deployment %s: %s", name, failures[0])
		return nil, pullError(failures, fmt.Errorf("%s was the fallback for %s", alt, image))
	}
	return d, err
}

// templateImage is the image of the container (or init container) named ctr in t, "" when
// there is none.
func templateImage(t *corev1.PodTemplateSpec, ctr string) string {
	if i, init := containerIndex(t, ctr); i >= 0 {
		if init {
			return t.Spec.InitContainers[i].Image
		}
		return t.Spec.Containers[i].Image
	}
	return ""
}

// containerIndex finds the container named ctr in t: its index and whether it is an init
// container; -1 when there is none.
func containerIndex(t *corev1.PodTemplateSpec, ctr string) (int, bool) {
	for i := range t.Spec.Containers {
		if t.Spec.Containers[i].Name == ctr {
			return i, false
		}
	}
	for i := range t.Spec.InitContainers {
		if t.Spec.InitContainers[i].Name == ctr {
			return i, true
		}
	}
	return -1, false
}

// setImage replaces the image of container ctr of Deployment ns/name, which must still be
// from, with to: a JSON patch of that image alone with the Deployment's resourceVersion as a
// precondition, retried after conflicts.
func setImage(ctx context.Context, c kubernetes.Interface, ns, name, ctr, from, to string, note func(string, ...any)) error {
	api := c.AppsV1().Deployments(ns)
	attempt := 0
	return retry.OnError(conflictBackoff, isConflict, func() error {
		attempt++
		d, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
		}
		patch, err := imagePatch(d, ctr, from, to)
		if err != nil {
			return err
		}
		if _, err := api.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			if isConflict(err) {
				note("deployment %s changed while setting the fallback image (attempt %d); reading it again", name, attempt)
			}
			return fmt.Errorf("patch deployment %s/%s: %w", ns, name, err)
		}
		return nil
	})
}

// imagePatch is the JSON patch that sets container ctr's image to to, provided it is still
// from, with d's resourceVersion as a precondition.
func imagePatch(d *appsv1.Deployment, ctr, from, to string) ([]byte, error) {
	i, init := containerIndex(&d.Spec.Template, ctr)
	if i < 0 {
		return nil, fmt.Errorf("deployment %s/%s has no container %s any more", d.Namespace, d.Name, ctr)
	}
	list, have := "containers", ""
	if init {
		list, have = "initContainers", d.Spec.Template.Spec.InitContainers[i].Image
	} else {
		have = d.Spec.Template.Spec.Containers[i].Image
	}
	if have != from {
		return nil, fmt.Errorf("deployment %s/%s: container %s now runs %s, not %s: someone else changed it", d.Namespace, d.Name, ctr, have, from)
	}
	path := fmt.Sprintf("/spec/template/spec/%s/%d", list, i)
	ops := []map[string]any{
		{"op": "test", "path": path + "/name", "value": ctr},
		{"op": "replace", "path": path + "/image", "value": to},
	}
	if d.ResourceVersion != "" {
		ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/resourceVersion", "value": d.ResourceVersion})
	}
	return json.Marshal(ops)
}

// annotate writes the audit annotations (a merge patch of those keys only) and records a
// Kubernetes Event on the Deployment. A refused Event is only logged.
func annotate(ctx context.Context, c kubernetes.Interface, ns, name string, res RollbackResult, opts RollbackOptions, at time.Time) error {
	var fallback any // null removes an earlier rollback's fallback
	if _, alt, ok := strings.Cut(res.Fallback, " → "); ok {
		fallback = alt
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{
		AnnotationRolledBackTo:  strconv.FormatInt(res.To.Number, 10),
		AnnotationReason:        opts.Reason,
		AnnotationAt:            at.UTC().Format(time.RFC3339),
		AnnotationBy:            opts.By,
		AnnotationFallbackImage: fallback,
	}}})
	if err != nil {
		return err
	}
	d, err := c.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("write the audit annotations on deployment %s/%s: %w", ns, name, err)
	}
	msg := fmt.Sprintf("rolled back from revision %d (%s) to revision %d (%s) by %s: %s",
		res.From.Number, res.From.Image(), res.To.Number, res.To.Image(), opts.By, opts.Reason)
	if res.Fallback != "" {
		msg += "; fallback image " + res.Fallback
	}
	now := metav1.NewTime(at)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + ".plimsoll-", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Namespace: ns, Name: name,
			UID: d.UID, ResourceVersion: d.ResourceVersion},
		Reason: "PlimsollRollback", Message: msg, Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "plimsoll"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := c.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil && opts.Logger != nil {
		opts.Logger.Warn("could not record the rollback event", "deployment", ns+"/"+name, "err", err)
	}
	return nil
}
