package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/helm"
	"github.com/plimsoll/plimsoll/internal/incident"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func newHelmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "helm",
		Short: "Helm releases through the Helm SDK: history and (atomic) upgrade",
		Long: `helm reads and changes Helm releases where the helm CLI keeps them (Secrets of the
release's namespace), with no helm binary. Roll a release back with
'plimsoll rollback helm/RELEASE'.`,
		Args: noArgs,
	}
	cmd.AddCommand(newHelmHistoryCmd(), newHelmUpgradeCmd())
	return cmd
}

func newHelmHistoryCmd() *cobra.Command {
	var o kube.ClientOptions
	var output string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "history RELEASE",
		Short: "Print a release's revisions, as 'helm history' does",
		Long:  "history prints a release's revisions, oldest first. Exit codes: 0 printed, 1 error (not found), 2 usage.",
		Args:  func(cmd *cobra.Command, args []string) error { return usage(cobra.ExactArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("%w: -o %s: want text or json", ErrUsage, output)
			}
			hc, err := helm.New(o, (&common{verbose: verbose}).logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			h, err := hc.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(h)
			}
			printHelmHistory(w, h)
			return nil
		},
	}
	kubeClientFlags(cmd, &o)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log diagnostics to stderr")
	return cmd
}

// printHelmHistory prints the columns of helm history, and the images.
func printHelmHistory(w io.Writer, h []helm.Revision) {
	fmt.Fprintf(w, "%-8s  %-25s  %-16s  %-16s  %-11s  %-28s  %s\n", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION", "IMAGES")
	for _, r := range h {
		fmt.Fprintf(w, "%-8d  %-25s  %-16s  %-16s  %-11s  %-28s  %s\n", r.Number, r.Updated.UTC().Format(time.RFC3339),
			r.Status, r.Chart, r.AppVersion, r.Description, r.Image())
	}
}

type helmUpgradeOpts struct {
	kube                  kube.ClientOptions
	set, values           []string
	atomic, install, wait bool
	timeout               time.Duration
	historyMax            int
	dsn, incidentDir      string
	verbose               bool
}

func newHelmUpgradeCmd() *cobra.Command {
	var o helmUpgradeOpts
	cmd := &cobra.Command{
		Use:   "upgrade RELEASE CHART",
		Short: "Upgrade a release with a chart directory or archive; --atomic rolls it back when its pods are not Ready",
		Long: `upgrade is 'helm upgrade' through the SDK. With --atomic (or --wait) it waits up to --timeout
for the new revision's pods to be Ready; with --atomic a revision that never gets Ready is
rolled back by Helm (a new revision "Rollback to N") and recorded as an incident like
'plimsoll rollback' does. A release stuck in pending-install/upgrade/rollback is refused:
recover it with 'plimsoll rollback helm/RELEASE [--force-unlock]'.

Exit codes: 0 upgraded, 20 the upgrade failed (rolled back with --atomic), 1 error, 2 usage.`,
		Args: func(cmd *cobra.Command, args []string) error { return usage(cobra.ExactArgs(2)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error { return runHelmUpgrade(cmd, args[0], args[1], o) },
	}
	fl := cmd.Flags()
	kubeClientFlags(cmd, &o.kube)
	fl.StringArrayVar(&o.set, "set", nil, "set a value, k=v (Helm's syntax; repeatable)")
	fl.StringArrayVarP(&o.values, "values", "f", nil, "a values YAML file (repeatable)")
	fl.BoolVar(&o.atomic, "atomic", false, "roll back automatically when the upgrade fails (implies --wait)")
	fl.BoolVar(&o.install, "install", false, "install the release when it does not exist")
	fl.BoolVar(&o.wait, "wait", false, "wait for the pods of the new revision to be Ready")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time limit for each wait")
	fl.IntVar(&o.historyMax, "history-max", 10, "revisions kept (0 = no limit)")
	fl.StringVar(&o.dsn, "store", "", storeHelp)
	fl.StringVar(&o.incidentDir, "incident-dir", "plimsoll-incidents", `where incident reports are written as Markdown ("" for none)`)
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "log diagnostics to stderr")
	return cmd
}

func runHelmUpgrade(cmd *cobra.Command, name, chartPath string, o helmUpgradeOpts) error {
	if _, err := helm.ParseRelease("helm/" + name); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if o.timeout <= 0 || o.historyMax < 0 {
		return fmt.Errorf("%w: --timeout must be positive and --history-max not negative", ErrUsage)
	}
	ch, vals, err := helm.ChartValues(chartPath, o.values, o.set)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	hc, err := helm.New(o.kube, (&common{verbose: o.verbose}).logger(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	rec := incident.NewRecorder(nil, store.Incident{Kind: store.IncidentRollback, Namespace: hc.Namespace(), Workload: "helm/" + name,
		Reason: "atomic upgrade failed"})
	rec.Addf("helm upgrade of %s requested by %s (atomic %v)", name, whoami(), o.atomic)
	w := cmd.OutOrStdout()
	res, err := hc.Upgrade(cmd.Context(), name, ch, vals, helm.UpgradeOptions{
		Install: o.install, Atomic: o.atomic, Wait: o.wait, Timeout: o.timeout, MaxHistory: o.historyMax, Progress: rec.Add})
	switch {
	case err == nil && res.Installed:
		fmt.Fprintf(w, "helm/%s: installed, revision %d (%s) in %s\n", name, res.Now.Number, res.Now.Image(), res.Took.Round(10*time.Millisecond))
		return nil
	case err == nil:
		fmt.Fprintf(w, "helm/%s: upgraded from revision %d (%s) to revision %d (%s) in %s\n", name, res.From.Number, res.From.Image(),
			res.Now.Number, res.Now.Image(), res.Took.Round(10*time.Millisecond))
		return nil
	case !errors.Is(err, helm.ErrUpgradeFailed):
		return err
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if !res.RolledBack {
		fmt.Fprintf(w, "helm/%s: FAILED: %s\n", name, msg)
		return &DecisionError{Decision: verdict.NoGo, Summary: "helm upgrade of " + name + " failed", Reason: msg}
	}
	fmt.Fprintf(w, "helm/%s: upgrade to revision %d (%s) FAILED and was rolled back: revision %d %q (%s)\n",
		name, res.To.Number, res.To.Image(), res.Now.Number, res.Now.Description, res.Now.Image())
	rec.Update(func(in *store.Incident) {
		in.FromImage, in.ToImage, in.Reason = res.To.Image(), res.Now.Image(), "atomic upgrade failed: "+msg
	})
	rec.End()
	if serr := saveIncidents(cmd, o.incidentDir, o.dsn, []store.Incident{rec.Incident()}); serr != nil {
		return errors.Join(err, serr)
	}
	return &DecisionError{Decision: verdict.NoGo, Summary: fmt.Sprintf("helm upgrade of %s failed and was rolled back to revision %d", name, res.From.Number), Reason: msg}
}

// runHelmRollback is plimsoll rollback for helm/NAME arguments: each release is rolled back
// in turn (Helm keeps one operation per release at a time) and recorded as an incident.
func runHelmRollback(cmd *cobra.Command, names []string, o rollbackOpts) error {
	if o.dryRun || o.force || o.healthURL != "" {
		return fmt.Errorf("%w: --dry-run, --force and --health-url are for Deployments, not Helm releases", ErrUsage)
	}
	hc, err := helm.New(o.kube, (&common{verbose: o.verbose}).logger(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	reason := o.reason
	if reason == "" {
		reason = "manual rollback"
	}
	by := whoami()
	w := cmd.OutOrStdout()
	var failed, errs []error
	var incidents []store.Incident
	for _, name := range names {
		rec := incident.NewRecorder(nil, store.Incident{Kind: store.IncidentRollback, Namespace: hc.Namespace(), Workload: "helm/" + name, Reason: reason})
		rec.Addf("rollback of helm/%s requested by %s: %s", name, by, reason)
		ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
		res, err := hc.Rollback(ctx, name, helm.RollbackOptions{ToRevision: int(o.toRevision), Timeout: o.timeout,
			ForceUnlock: o.forceUnlock, Progress: rec.Add})
		cancel()
		rec.Update(func(in *store.Incident) { in.FromImage, in.ToImage = res.From.Image(), res.To.Image() })
		if err != nil {
			rec.Addf("rollback of helm/%s failed: %v", name, err)
		}
		rec.End()
		if res.Applied || res.Unlocked {
			incidents = append(incidents, rec.Incident())
		}
		switch {
		case err == nil:
			fmt.Fprintf(w, "helm/%s: %s\n", name, res.Message)
		case res.Applied:
			fmt.Fprintf(w, "helm/%s: FAILED: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
			failed = append(failed, err)
		default:
			fmt.Fprintf(w, "helm/%s: FAILED: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
			errs = append(errs, err)
		}
	}
	return finishRollbacks(cmd, o, incidents, "Helm rollbacks", len(names), failed, errs)
}
