package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func newDrillCmd() *cobra.Command {
	var (
		k                      kube.ClientOptions
		image, container, hurl string
		timeout                time.Duration
		verbose                bool
	)
	cmd := &cobra.Command{
		Use:   "drill deploy/NAME --image V2",
		Short: "Rehearse a rollback: roll out V2, roll back, confirm the running image is back",
		Long: `drill exercises the rollback path of a Deployment before a real incident needs it: it
records the image running now (v1), sets --image (v2) and waits for that rollout, rolls back
to v1's revision exactly as 'plimsoll rollback' does (wait, verification, audit trail), and
confirms that v1 runs again with every pod Ready. A v2 that never becomes Available is
rolled back all the same. Run it on a staging copy of the workload.

Exit codes: 0 the rollback path works, 20 it does not, 1 error, 2 usage.`,
		Args: rangeArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := kube.ParseDeployment(args[0])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUsage, err)
			}
			if image == "" {
				return fmt.Errorf("%w: --image is required", ErrUsage)
			}
			if timeout <= 0 {
				return fmt.Errorf("%w: --timeout must be positive", ErrUsage)
			}
			client, ns, err := k.Client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			w := cmd.OutOrStdout()
			res, err := kube.Drill(ctx, client, ns, name, kube.DrillOptions{
				Image: image, Container: container, HealthURL: hurl,
				Logger:   (&common{verbose: verbose}).logger(cmd.ErrOrStderr()),
				Progress: func(s string) { fmt.Fprintf(w, "  %s  %s\n", time.Now().UTC().Format("15:04:05.000"), s) },
			})
			if err != nil && !errors.Is(err, kube.ErrDrillFailed) {
				return err
			}
			if err != nil {
				fmt.Fprintf(w, "drill deploy/%s: FAILED: %v\n", name, err)
				return &DecisionError{Decision: verdict.NoGo, Summary: "rollback drill failed", Reason: err.Error()}
			}
			fmt.Fprintf(w, "drill deploy/%s: PASSED: %s -> %s -> %s (revision %d) in %s; rollback Available in %s\n",
				name, res.V1, res.V2, res.V1, res.Rollback.NewRevision, res.Total.Round(10*time.Millisecond), res.Rollback.Available.Round(10*time.Millisecond))
			return nil
		},
	}
	kubeClientFlags(cmd, &k)
	fl := cmd.Flags()
	fl.StringVar(&image, "image", "", "the release to roll out and back (v2)")
	fl.StringVar(&container, "container", "", "the container to set the image on (default: the only one)")
	fl.StringVar(&hurl, "health-url", "", "a URL that must answer GET with 200 after the rollback")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "time limit for the whole drill")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log diagnostics to stderr")
	return cmd
}
