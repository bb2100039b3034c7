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
	"github.com/plimsoll/plimsoll/internal/runtime"
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
	ctx, cancel := context.WithCancelCause(context.Background())
	track := new(runtime.Tracker)
	ctx = runtime.WithTracker(ctx, track)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal stops the run, which cleans up; a second one exits at once, when
		// the cleanup itself is stuck (an engine that stopped answering).
		cancel(interruption{<-sigs})
		sig := <-sigs
		fmt.Fprintln(os.Stderr, "plimsoll: "+secondSignal(sig, track.Live()))
		os.Exit(exitInterrupted)
	}()
	err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cause := context.Cause(ctx)
	interrupted := ctx.Err() != nil
	signal.Stop(sigs)
	code := exitCode(err, interrupted)
	switch d := (*cli.DecisionError)(nil); {
	case interrupted:
		fmt.Fprintln(os.Stderr, "plimsoll: "+interruptedLine(cause, err, track.RemovedNames(), track.Live()))
	case err != nil && (!errors.As(err, &d) || d.Decision == verdict.Error):
		// CAUTION and NO-GO were reported on stdout; anything else also gets one line on
		// stderr, whatever the error: a policy's problems are joined with "; ".
		fmt.Fprintln(os.Stderr, "plimsoll: "+oneLine(err))
	}
	os.Exit(code)
}

// interruption is the cause of a run's cancellation by a signal.
type interruption struct{ sig os.Signal }

func (i interruption) Error() string { return "interrupted by " + signalName(i.sig) }

// signalName is SIGINT or SIGTERM, as a user sends them.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// interruptedLine is the line a run stopped by a signal ends with: which signal, what it cleaned up
// and what may be left. err, the command's error, is shown only when it says more than that
// the run was cancelled.
func interruptedLine(cause, err error, removed, live []string) string {
	var b strings.Builder
	b.WriteString(cause.Error())
	if err != nil && !errors.Is(err, context.Canceled) {
		b.WriteString(" (" + oneLine(err) + ")")
	}
	switch len(removed) {
	case 0:
		b.WriteString("; no containers to remove")
	default:
		fmt.Fprintf(&b, "; removed %d %s: %s", len(removed), plural(len(removed)), strings.Join(removed, ", "))
	}
	if len(live) > 0 {
		b.WriteString("; " + leftBehind(live))
	}
	return b.String()
}

// secondSignal is the line of a process that exits on a second signal without cleaning up.
func secondSignal(sig os.Signal, live []string) string {
	msg := "second " + signalName(sig) + ": exiting without waiting for the cleanup"
	if len(live) == 0 {
		return msg + "; `plimsoll gc` removes any container this run left"
	}
	return msg + "; " + leftBehind(live)
}

func leftBehind(live []string) string {
	return fmt.Sprintf("%d %s may be left: %s; `plimsoll gc` removes them", len(live), plural(len(live)), strings.Join(live, ", "))
}

func plural(n int) string {
	if n == 1 {
		return "container"
	}
	return "containers"
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

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
