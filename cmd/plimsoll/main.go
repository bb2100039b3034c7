// Command plimsoll decides whether a new container image may replace an old one.
//
// main is the composition root: it sets up the signal context, runs the command line and maps
// the outcome to the exit-code contract documented in the README, in one switch.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/plimsoll/plimsoll/internal/cli"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// The exit-code contract.
const (
	exitGo          = 0
	exitError       = 1 // could not decide: a tool error or a check that could not tell
	exitUsage       = 2 // bad flags, arguments or policy file
	exitCaution     = 10
	exitNoGo        = 20
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	code := exitCode(err, interrupted)
	// CAUTION and NO-GO were reported on stdout; anything else also gets one line on stderr,
	// whatever the error: a policy's problems are joined with "; ".
	if d := (*cli.DecisionError)(nil); err != nil && (!errors.As(err, &d) || d.Decision == verdict.Error) {
		fmt.Fprintln(os.Stderr, "plimsoll: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	os.Exit(code)
}

// exitCode maps the outcome of a command to the documented exit code.
func exitCode(err error, interrupted bool) int {
	var d *cli.DecisionError
	switch {
	case err == nil:
		return exitGo
	case interrupted || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &d):
		switch d.Decision {
		case verdict.Go:
			return exitGo
		case verdict.Caution:
			return exitCaution
		case verdict.NoGo:
			return exitNoGo
		default:
			return exitError
		}
	case errors.Is(err, cli.ErrUsage), errors.Is(err, config.ErrInvalid), errors.Is(err, image.ErrBadReference):
		return exitUsage
	default:
		return exitError
	}
}
