// Package cli is plimsoll's command line: cobra commands whose RunE parses flags, calls one
// library function and prints to the writers it was given. Exit codes are decided in main from
// the errors returned here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/verdict"
)

// ErrUsage marks a mistake in the command line: main exits with the usage code.
var ErrUsage = errors.New("usage")

// DecisionError carries a verdict other than GO out of a command, so main can map it to its
// exit code. The verdict itself has already been printed.
type DecisionError struct {
	Decision verdict.Decision
	Summary  string
	// Reason is the first reason behind the decision, "" when there is none.
	Reason string
}

func (e *DecisionError) Error() string {
	if e.Reason == "" {
		return string(e.Decision) + ": " + e.Summary
	}
	return string(e.Decision) + ": " + e.Summary + "; " + e.Reason
}

// version is set at build time with -ldflags "-X github.com/plimsoll/plimsoll/internal/cli.version=…".
var version = ""

// Version is the version of this build of plimsoll.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Execute runs the command line args.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	var prof profiler
	prof.register(root)
	err := root.ExecuteContext(ctx)
	if perr := prof.stop(); perr != nil {
		if err == nil {
			return perr
		}
		fmt.Fprintf(stderr, "plimsoll: warning: %v\n", perr) // the command's own outcome decides the exit code
	}
	return err
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "plimsoll",
		Short: "Decide whether a new container image may replace an old one",
		Long: `plimsoll tests an old container image against a new one, decides GO / CAUTION / NO-GO
with the evidence behind every reason, and writes reports for people and CI.

Exit codes: 0 GO, 10 CAUTION, 20 NO-GO, 1 could not decide (error),
2 usage or configuration error, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	})
	root.AddCommand(
		newCheckCmd(),
		newSoakCmd(),
		newPlanCmd(),
		newRunsCmd(),
		newInventoryCmd(),
		newPinCmd(),
		newPatchesCmd(),
		newLedgerCmd(),
		newVulnDBCmd(),
		newGCCmd(),
		newServeCmd(),
		newRolloutCmd(),
		newRollbackCmd(),
		newDrillCmd(),
		newHelmCmd(),
		newPreflightCmd(),
		newVersionCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print plimsoll's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "plimsoll", Version())
			return err
		},
	}
}

// noArgs and exactArgs are cobra argument validators whose errors are usage errors.
func noArgs(cmd *cobra.Command, args []string) error { return usage(cobra.NoArgs(cmd, args)) }

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return usage(cobra.RangeArgs(lo, hi)(cmd, args)) }
}

func usage(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrUsage, err)
}
