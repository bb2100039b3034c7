package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/runtime/docker"
)

func newGCCmd() *cobra.Command {
	var runs []string
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove containers left behind by plimsoll runs that were killed",
		Long: `gc removes the containers of plimsoll runs whose plimsoll process on this host is gone
(killed with SIGKILL, say), and those of the runs named with --run whatever their state.
Every check that starts containers does this first, so gc is rarely needed by hand.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := docker.New(cmd.Context())
			if err != nil {
				return err
			}
			defer rt.Close()
			removed, err := rt.GC(cmd.Context(), docker.GCOptions{RunIDs: runs})
			if err != nil {
				return err
			}
			for _, id := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", id)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d containers removed\n", len(removed))
			return err
		},
	}
	cmd.Flags().StringSliceVar(&runs, "run", nil, "also remove the containers of these run IDs")
	return cmd
}
