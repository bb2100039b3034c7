// Package gate runs an upgrade check end to end: it resolves both images, plans the upgrade,
// runs the planned layers' checks against both images within the plan's budget, decides the
// verdict and assembles the report. Progress goes to a typed event stream, separate from logs.
package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// EventKind says what happened.
type EventKind int

// The events of a run, in the order they happen.
const (
	EventPlanned    EventKind = iota // the plan is known (Message: kind and layers)
	EventLayerStart                  // a layer starts
	EventCheckStart                  // a check starts
	EventCheckDone                   // a check finished (Status, Elapsed, Message)
	EventLayerDone                   // a layer finished or was passed over (Status or Message)
)

// Event is one step of progress.
type Event struct {
	Kind    EventKind
	Layer   check.Layer
	Check   string
	Status  check.Status
	Elapsed time.Duration
	// Index and Total count the checks of the layer (1-based), for progress bars.
	Index, Total int
	Message      string
}

// Layers maps each layer to its checks: the explicit list of what this build can run. A
// planned layer with no entry is reported as not run, never as passed.
type Layers map[check.Layer]Layer

// Layer is what one layer runs, and what it must release when it is done.
type Layer struct {
	Checks []check.Check
	// Close, when set, releases what the layer's checks share (running containers). The gate
	// calls it once the layer's checks are done, on every path, with a context that is not
	// cancelled, so an interrupted run still cleans up.
	Close func(ctx context.Context) error
}

// runLayers runs the planned layers in order. excluded layers were narrowed away by the user.
// It returns one report.Layer for every layer, the runs for the verdict and all results. When
// ctx ends (a signal, the time budget) the check that was running becomes an ERROR result
// saying why it stopped and the layers after it are not run; only cancellation, not the
// budget, is also returned as an error, with everything else.
func runLayers(ctx context.Context, env *check.Env, avail Layers, planned, excluded []check.Layer, emit func(Event)) ([]report.Layer, []verdict.LayerRun, []check.Result, error) {
	var (
		layers  []report.Layer
		runs    []verdict.LayerRun
		results []check.Result
		stopped string // why the run stopped, once it has
	)
	for _, l := range check.AllLayers {
		rl := report.Layer{Layer: l, Name: l.Name(), Results: []check.Result{}}
		if stopped == "" && ctx.Err() != nil {
			stopped = stopCause(ctx)
		}
		switch {
		case !slices.Contains(planned, l):
			rl.State, rl.Status, rl.Why = report.StateNotPlanned, check.StatusSkipped, "not called for by the plan"
		case slices.Contains(excluded, l):
			rl.State, rl.Status, rl.Why = report.StateExcluded, check.StatusSkipped, "narrowed away by --layers"
			runs = append(runs, verdict.LayerRun{Layer: l, Excluded: true, Why: rl.Why})
		case len(avail[l].Checks) == 0:
			rl.State, rl.Status, rl.Why = report.StateNotRun, check.StatusSkipped, "not available in this build of plimsoll"
			runs = append(runs, verdict.LayerRun{Layer: l, Why: rl.Why})
		case stopped != "":
			rl.State, rl.Status, rl.Why = report.StateNotRun, check.StatusSkipped, "not run: "+stopped
			runs = append(runs, verdict.LayerRun{Layer: l, Why: rl.Why})
		default:
			start := time.Now()
			res := runLayer(ctx, env, l, avail[l], emit)
			rl.Status = layerStatus(res)
			rl.Results = append(rl.Results, res...)
			results = append(results, res...)
			rl.State, rl.Duration = report.StateRan, report.Duration(time.Since(start))
			if rl.Status == check.StatusSkipped {
				// Every check had nothing to do (no suite configured, say): the layer verified
				// nothing, so it cannot count towards the promotion rule.
				runs = append(runs, verdict.LayerRun{Layer: l, Why: "every check was skipped: " + res[0].Message})
			} else {
				runs = append(runs, verdict.LayerRun{Layer: l, Ran: true})
			}
			emit(Event{Kind: EventLayerDone, Layer: l, Status: rl.Status, Elapsed: time.Since(start)})
			layers = append(layers, rl)
			continue
		}
		if rl.State != report.StateNotPlanned {
			emit(Event{Kind: EventLayerDone, Layer: l, Status: rl.Status, Message: rl.Why})
		}
		layers = append(layers, rl)
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return layers, runs, results, err
	}
	return layers, runs, results, nil
}

// stopCause says why ctx ended: the cause it was given ("interrupted by SIGTERM", "the time
// budget of 15m0s ran out"), else its error.
func stopCause(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return "stopped"
}

// layerStatus is the worst status of a layer's results, where a skipped check counts only
// when every check was skipped: one check with nothing to do does not make a layer "skipped".
func layerStatus(res []check.Result) check.Status {
	worst, ran := check.StatusPass, false
	for _, r := range res {
		if r.Status != check.StatusSkipped {
			worst, ran = check.Worst(worst, r.Status), true
		}
	}
	if !ran {
		return check.StatusSkipped
	}
	return worst
}

// runLayer runs the checks of one layer in order and then releases what they share. When ctx
// ends, the check that was running, if it could not finish, is an ERROR result saying why it
// stopped, and the layer's other checks are not run.
func runLayer(ctx context.Context, env *check.Env, l check.Layer, ly Layer, emit func(Event)) (results []check.Result) {
	if ly.Close != nil {
		defer func() {
			if cerr := ly.Close(context.WithoutCancel(ctx)); cerr != nil {
				env.Log.Warn("releasing the layer's resources failed", "layer", l, "err", cerr)
			}
		}()
	}
	emit(Event{Kind: EventLayerStart, Layer: l, Total: len(ly.Checks)})
	for i, c := range ly.Checks {
		if ctx.Err() != nil {
			break
		}
		emit(Event{Kind: EventCheckStart, Layer: l, Check: c.Name(), Index: i + 1, Total: len(ly.Checks)})
		cs := time.Now()
		r := runOne(ctx, env, l, c)
		if ctx.Err() != nil && r.Status == check.StatusError {
			r.Message = fmt.Sprintf("stopped while %s/%s ran: %s (%s)", l.Name(), c.Name(), stopCause(ctx), r.Message)
		}
		emit(Event{Kind: EventCheckDone, Layer: l, Check: c.Name(), Status: r.Status, Elapsed: time.Since(cs),
			Index: i + 1, Total: len(ly.Checks), Message: r.Message})
		results = append(results, r)
	}
	return results
}

// runOne runs one check, turning an error or a panic into an ERROR result that says so.
func runOne(ctx context.Context, env *check.Env, l check.Layer, c check.Check) (r check.Result) {
	defer func() {
		if p := recover(); p != nil {
			env.Log.Error("check panicked", "layer", l, "check", c.Name(), "panic", p)
			r = check.Result{Layer: l, Check: c.Name(), Status: check.StatusError,
				Message: fmt.Sprintf("internal error in check: %v", p)}
		}
	}()
	r, err := c.Run(ctx, env)
	r.Layer, r.Check = l, c.Name()
	if err != nil {
		msg := err.Error()
		// Only the run's own deadline is its budget: a call's timeout (an engine that stopped
		// answering, a probe) may match DeadlineExceeded too.
		if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = "time budget exceeded: " + msg
		}
		return check.Result{Layer: l, Check: c.Name(), Status: check.StatusError, Message: msg}
	}
	if r.Message == "" {
		r.Message = r.Status.String()
	}
	return r
}

// discard is the logger of a run that was given none.
var discard = slog.New(slog.DiscardHandler)
