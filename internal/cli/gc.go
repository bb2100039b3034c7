package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	podrt "github.com/plimsoll/plimsoll/internal/runtime/kube"
)

func newGCCmd() *cobra.Command {
	var runs []string
	var engine string
	var ko kube.ClientOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove containers left behind by plimsoll runs that were killed",
		Long: `gc removes the containers of plimsoll runs whose plimsoll process on this host is gone
(killed with SIGKILL, say), and those of the runs named with --run whatever their state.
With --runtime kubernetes it deletes such pods in the namespace instead.
Every check that starts containers does this first, so gc is rarely needed by hand.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var removed []string
			var err error
			switch engine {
			case "docker":
				rt, nerr := docker.New(cmd.Context())
				if nerr != nil {
					return nerr
				}
				defer rt.Close()
				removed, err = rt.GC(cmd.Context(), docker.GCOptions{RunIDs: runs})
			case "kubernetes":
				cfg, ns, cerr := ko.Config()
				if cerr != nil {
					return fmt.Errorf("%w: %v", ErrUsage, cerr)
				}
				rt, nerr := podrt.New(cmd.Context(), cfg, podrt.WithNamespace(ns))
				if nerr != nil {
					return nerr
				}
				removed, err = rt.GC(cmd.Context(), runs...)
			default:
				return fmt.Errorf("%w: --runtime %q: use %s", ErrUsage, engine, strings.Join(config.Engines, " or "))
			}
			if err != nil {
				return err
			}
			for _, id := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", id)
			}
			what := "containers"
			if engine == "kubernetes" {
				what = "pods"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d %s removed\n", len(removed), what)
			return err
		},
	}
	cmd.Flags().StringSliceVar(&runs, "run", nil, "also remove the containers of these run IDs")
	cmd.Flags().StringVar(&engine, "runtime", config.Engines[0], "where the containers run: "+strings.Join(config.Engines, " or "))
	kubeClientFlags(cmd, &ko)
	return cmd
}
