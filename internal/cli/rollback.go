package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/helm"
	"github.com/plimsoll/plimsoll/internal/incident"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// rollbackOpts are the flags of plimsoll rollback.
type rollbackOpts struct {
	kube        kube.ClientOptions
	toRevision  int64
	dryRun      bool
	force       bool
	reason      string
	timeout     time.Duration
	healthURL   string
	dsn         string
	incidentDir string
	verbose     bool
	forceUnlock bool
	fb          fallbackFlags
}

func newRollbackCmd() *cobra.Command {
	var o rollbackOpts
	cmd := &cobra.Command{
		Use:   "rollback deploy/NAME [deploy/NAME...] | helm/RELEASE [helm/RELEASE...]",
		Short: "Roll Deployments back to their previous (or a given) revision, verified, with an incident record",
		Long: `rollback does what 'kubectl rollout undo' does to each Deployment (the previous revision,
or --to-revision N), then waits for the rollout like 'kubectl rollout status' (a progress
deadline fails it), verifies that the pods of the restored revision are Ready and none is
crash-looping (and that --health-url answers 200), and writes the audit trail on the
Deployment (annotations plimsoll.dev/rolled-back-*, and an Event). Several Deployments are
rolled back at once, each verified and reported on its own line.

A revision whose pod template carries the annotation plimsoll.dev/migration applied a schema
migration: rolling back to a revision older than it is refused unless --force.

When the restored revision's image cannot be pulled, the rollback fails within seconds
instead of at the progress deadline, unless the registry fallback applies a replacement:
` + fallbackHelp + `

Each rollback is recorded as an incident: Markdown in --incident-dir and a record in the
store. --dry-run says what would happen and changes nothing.

helm/RELEASE rolls a Helm release back through the Helm SDK ('helm rollback --wait': a new
revision "Rollback to N" whose pods are Ready), by default to the last revision before the
current one that was deployed (helm's previous revision, unless that one failed too). A
release stuck in pending-install, pending-upgrade or pending-rollback is rolled back the
same way; --force-unlock first marks the stuck revision failed. Each is recorded as an
incident too.

Exit codes: 0 rolled back and verified (or nothing to do), 20 a rollout or its verification
failed, 1 error (nothing rolled back: unknown revision, paused, migration guard…), 2 usage.`,
		Args: func(cmd *cobra.Command, args []string) error { return usage(cobra.MinimumNArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error { return runRollback(cmd, args, o) },
	}
	fl := cmd.Flags()
	kubeClientFlags(cmd, &o.kube)
	fl.Int64Var(&o.toRevision, "to-revision", 0, "the revision to roll back to (default: the previous one)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "say what would happen; change nothing")
	fl.BoolVar(&o.force, "force", false, "roll back past a revision that applied a schema migration")
	fl.StringVar(&o.reason, "reason", "", "why: goes into the audit annotations and the incident")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time limit for each rollback, verification included")
	fl.StringVar(&o.healthURL, "health-url", "", "a URL that must answer GET with 200 after the rollback")
	fl.StringVar(&o.dsn, "store", "", storeHelp)
	fl.StringVar(&o.incidentDir, "incident-dir", "plimsoll-incidents", `where incident reports are written as Markdown ("" for none)`)
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "log diagnostics to stderr")
	fl.BoolVar(&o.forceUnlock, "force-unlock", false, "helm/RELEASE stuck in a pending-* status: mark it failed before rolling back")
	o.fb.register(cmd)
	return cmd
}

// kubeClientFlags registers kubectl's client flags: --kubeconfig, --context, -n.
func kubeClientFlags(cmd *cobra.Command, o *kube.ClientOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
	fl.StringVar(&o.Context, "context", "", "kubeconfig context")
	fl.StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default: the context's)")
}

func runRollback(cmd *cobra.Command, args []string, o rollbackOpts) error {
	if o.toRevision < 0 {
		return fmt.Errorf("%w: --to-revision %d: revisions are positive", ErrUsage, o.toRevision)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", ErrUsage)
	}
	if strings.HasPrefix(strings.ToLower(args[0]), "helm/") {
		releases := make([]string, len(args))
		for i, a := range args {
			n, err := helm.ParseRelease(a)
			if err != nil {
				return fmt.Errorf("%w: %v (Deployments and Helm releases are rolled back by separate commands)", ErrUsage, err)
			}
			releases[i] = n
		}
		return runHelmRollback(cmd, releases, o)
	}
	if o.forceUnlock {
		return fmt.Errorf("%w: --force-unlock is for helm/RELEASE", ErrUsage)
	}
	names := make([]string, len(args))
	for i, a := range args {
		n, err := kube.ParseDeployment(a)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		names[i] = n
	}
	log := (&common{verbose: o.verbose}).logger(cmd.ErrOrStderr())
	pol, err := o.fb.policy(cmd.Context())
	if err != nil {
		return err
	}
	fbs, err := o.fb.setup(pol, o.dsn, log)
	if err != nil {
		return err
	}
	client, ns, err := o.kube.Client()
	if err != nil {
		return err
	}
	var onPull func(context.Context, string, []kube.PullFailure) (string, error)
	if find := fbs.onPull(rollbackAdvice); find != nil {
		onPull = func(ctx context.Context, image string, failures []kube.PullFailure) (string, error) {
			use, note := find(ctx, image, failures)
			if use == "" {
				return "", errors.New(note)
			}
			return use, nil
		}
	}
	by := whoami()
	reason := o.reason
	if reason == "" {
		reason = "manual rollback"
	}

	type outcome struct {
		res kube.RollbackResult
		err error
		rec *incident.Recorder
	}
	outs := make([]outcome, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		rec := incident.NewRecorder(nil, store.Incident{Kind: store.IncidentRollback, Namespace: ns, Workload: "deploy/" + name, Reason: reason})
		rec.Addf("rollback of deploy/%s requested by %s: %s", name, by, reason)
		outs[i].rec = rec
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			res, err := kube.Rollback(ctx, client, ns, name, kube.RollbackOptions{
				ToRevision: o.toRevision, DryRun: o.dryRun, Force: o.force, Reason: reason, By: by,
				HealthURL: o.healthURL, Progress: rec.Add, Logger: log, OnPullFailure: onPull,
			})
			rec.Update(func(in *store.Incident) { in.FromImage, in.ToImage = res.From.Image(), res.To.Image() })
			if err != nil {
				rec.Addf("rollback of deploy/%s failed: %v", name, err)
			}
			rec.End()
			outs[i].res, outs[i].err = res, err
		})
	}
	wg.Wait()

	w := cmd.OutOrStdout()
	var failed, errs []error
	var incidents []store.Incident
	for i, out := range outs {
		printRollback(w, names[i], out.res, out.err)
		applied := out.res.Applied
		if applied {
			incidents = append(incidents, out.rec.Incident())
		}
		switch {
		case out.err == nil:
		case applied || errors.Is(out.err, context.Canceled):
			failed = append(failed, out.err)
		default:
			errs = append(errs, out.err)
		}
	}
	return finishRollbacks(cmd, o, incidents, "rollbacks", len(names), failed, errs)
}

// finishRollbacks records the incidents of the rollbacks that were applied and returns the
// outcome of all of them: errors (nothing rolled back) first, then rollbacks that were applied
// but failed (NO-GO), else nil.
func finishRollbacks(cmd *cobra.Command, o rollbackOpts, incidents []store.Incident, what string, total int, failed, errs []error) error {
	if err := saveIncidents(cmd, o.incidentDir, o.dsn, incidents); err != nil {
		errs = append(errs, err)
	}
	switch {
	case len(errs) > 0:
		return errors.Join(append(errs, failed...)...)
	case len(failed) > 0:
		return &DecisionError{Decision: verdict.NoGo, Summary: fmt.Sprintf("%d of %d %s failed", len(failed), total, what), Reason: failed[0].Error()}
	}
	return nil
}

// printRollback prints one line for one workload.
func printRollback(w io.Writer, name string, r kube.RollbackResult, err error) {
	switch {
	case r.DryRun && err == nil && !r.Skipped:
		fmt.Fprintf(w, "deploy/%s: %s (dry run: nothing changed)\n", name, r.Message)
	case r.Skipped:
		fmt.Fprintf(w, "deploy/%s: %s\n", name, r.Message)
	case err == nil:
		fmt.Fprintf(w, "deploy/%s: rolled back from revision %d (%s) to revision %d (%s), now revision %d; Available in %s, %d pods Ready\n",
			name, r.From.Number, r.From.Image(), r.To.Number, r.To.Image(), r.NewRevision, r.Available.Round(10*time.Millisecond), r.ReadyPods)
	default:
		fmt.Fprintf(w, "deploy/%s: FAILED: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	for _, f := range r.Forced {
		fmt.Fprintf(w, "deploy/%s: forced past schema migration %s\n", name, f)
	}
	if r.Fallback != "" {
		fmt.Fprintf(w, "deploy/%s: registry fallback: %s\n", name, r.Fallback)
	}
}

// saveIncidents writes each incident's Markdown into dir (unless "") and records it in the
// store (unless "none"), even when the command was interrupted.
func saveIncidents(cmd *cobra.Command, dir, dsn string, incs []store.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	w := cmd.OutOrStdout()
	var errs []error
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("incident reports: %w", err)
		}
		for _, in := range incs {
			path := filepath.Join(dir, in.ID+".md")
			if err := os.WriteFile(path, []byte(incident.Markdown(in)), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("incident report: %w", err))
				continue
			}
			fmt.Fprintf(w, "incident report: %s\n", path)
		}
	}
	if dsn = storeDSN(dsn); dsn != "none" {
		ctx := context.WithoutCancel(cmd.Context())
		st, err := open.Open(ctx, dsn)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("recording incidents: %w", err))...)
		}
		for _, in := range incs {
			if err := st.PutIncident(ctx, in); err != nil {
				errs = append(errs, fmt.Errorf("recording incident %s: %w", in.ID, err))
			}
		}
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// whoami names the person or machine account running plimsoll, for the audit trail.
func whoami() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return name + "@" + h
	}
	return name
}
