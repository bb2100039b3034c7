package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/scan/grype"
)

func newVulnDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Work with the offline vulnerability database",
	}
	var out string
	build := &cobra.Command{
		Use:   "build RECORDS",
		Short: "Build a grype database from a YAML or JSON list of advisories, offline",
		Long: `build turns a list of advisories (id, namespace such as alpine:3.20 or debian:12, package,
fixed version, severity) into a grype v6 database directory with grype's own build code, the
same directory layout 'grype db import' makes. Air-gapped teams use it for their own advisories;
the demo and the tests use it to have a database that needs no network.`,
		Args: rangeArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: --out is required", ErrUsage)
			}
			recs, err := grype.LoadRecords(args[0])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUsage, err)
			}
			if err := grype.BuildDB(cmd.Context(), recs, out); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "built %s from %d advisories\n", out, len(recs))
			return err
		},
	}
	build.Flags().StringVar(&out, "out", "", "database directory to write (required)")
	cmd.AddCommand(build)
	return cmd
}
