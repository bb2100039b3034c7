package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plimsoll/plimsoll/internal/incident"
	"github.com/plimsoll/plimsoll/internal/metrics"
	"github.com/plimsoll/plimsoll/internal/store"
)

// ErrAborted is returned (wrapped, with the reason) by Run when the rollout was aborted: the
// command line exits with its "aborted" code.
var ErrAborted = errors.New("rollout aborted")

// ErrInProgress is returned (wrapped) by Begin when the route already sends traffic to a
// canary: another rollout is under way, or a blue/green switch is still live.
var ErrInProgress = errors.New("a rollout is in progress")

// Deps is what Run drives and reads.
type Deps struct {
	Workload Workload
	Router   Router
	// Gates are evaluated while the canary holds a step with traffic; PreSwitch while it
	// holds weight 0 (blue/green's check of green before the switch: acceptance webhooks).
	Gates, PreSwitch []metrics.Gate
	// Target names the workloads for the gates; Run sets its Weight.
	Target metrics.Target
	// Incident is the incident an abort records: Namespace, Workload, the images, and Kind
	// ("" = aborted-rollout; a requested revert is a rollback).
	Incident store.Incident
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Progress, when set, gets every tick that did something or measured something.
	Progress func(Tick)
	// MaxErrors is the number of failed ticks in a row (API errors) after which Run gives up
	// (0 = 5).
	MaxErrors int
	Logger    *slog.Logger
}

// Tick is what one round of the driver saw and did, for printing.
type Tick struct {
	Time    time.Time
	State   State // after the round
	Gates   []metrics.Measurement
	Actions []Action
}

// Result is how a rollout ended.
type Result struct {
	State State
	// Incident is the record of an abort, nil otherwise.
	Incident *store.Incident
	// BreachToWeightZero is the time from the observation that breached to the router's
	// confirmation of weight 0 (zero when there was no breach).
	BreachToWeightZero time.Duration
}

// Begin checks that no rollout holds the route and prepares the workload (the canary at
// zero, with image) and the route. It returns the plan's Replicas and the primary's image.
func Begin(ctx context.Context, d Deps, image string) (PrimaryInfo, error) {
	if w, err := d.Router.Weight(ctx); err != nil {
		return PrimaryInfo{}, err
	} else if w != 0 {
		return PrimaryInfo{}, fmt.Errorf("%w: the canary has %d%% of the traffic: revert it first (--revert)", ErrInProgress, w)
	}
	info, err := d.Workload.Prepare(ctx, image)
	if err != nil {
		return PrimaryInfo{}, err
	}
	if err := d.Router.Prepare(ctx); err != nil {
		return PrimaryInfo{}, err
	}
	return info, nil
}

// Run drives the rollout from s until it is Promoted or Aborted, one round per tick (and at
// once again after a round that changed the state). It returns ErrAborted (wrapped) for an
// abort, ctx's error when ctx ends first (the rollout is left where it is: --revert
// undoes it), or the last error after MaxErrors failed rounds in a row.
func Run(ctx context.Context, tick <-chan time.Time, d Deps, s State) (Result, error) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxErrors := d.MaxErrors
	if maxErrors <= 0 {
		maxErrors = 5
	}
	var (
		res      Result
		rec      *incident.Recorder
		breachAt time.Time
		failures int
	)
	for {
		prev := s
		next, err := round(ctx, d, s, now, &rec, &breachAt, &res)
		if err == nil {
			s, failures = next, 0
		} else {
			failures++
			log.Warn("rollout round failed", "err", err, "failures", failures)
			if rec != nil {
				rec.Addf("error: %v", err)
			}
			if failures >= maxErrors || ctx.Err() != nil {
				res.State = s
				return res, fmt.Errorf("rollout of %s: %w", d.Target.Primary, err)
			}
		}
		if s.Phase.Done() {
			res.State = s
			if rec != nil {
				rec.End()
				inc := rec.Incident()
				res.Incident = &inc
			}
			if s.Phase == Aborted {
				return res, fmt.Errorf("%w: %s", ErrAborted, s.Reason)
			}
			return res, nil
		}
		if err == nil && changed(prev, s) {
			continue
		}
		select {
		case <-ctx.Done():
			res.State = s
			return res, ctx.Err()
		case <-tick:
		}
	}
}

// changed reports whether a round moved the rollout on, so the next round runs at once.
func changed(a, b State) bool {
	return a.Phase != b.Phase || a.Step != b.Step || a.Weight != b.Weight || !a.WaitingSince.Equal(b.WaitingSince) || !a.PausedUntil.Equal(b.PausedUntil)
}

// round observes, steps and applies. It returns the new state only when every action was
// applied; otherwise the same state is stepped again next time (actions are idempotent).
func round(ctx context.Context, d Deps, s State, now func() time.Time, rec **incident.Recorder, breachAt *time.Time, res *Result) (State, error) {
	ws, err := d.Workload.Observe(ctx)
	if err != nil {
		return s, err
	}
	w, err := d.Router.Weight(ctx)
	if err != nil {
		return s, err
	}
	obs := Observation{CanaryReplicas: ws.CanaryReplicas, CanaryReady: ws.CanaryReady, PrimaryReady: ws.PrimaryReady, Weight: w}
	if s.Holding() {
		t := d.Target
		t.Weight = s.Weight
		gates := d.Gates
		if s.Weight == 0 {
			gates = d.PreSwitch
		}
		obs.Gates = metrics.Evaluate(ctx, gates, t)
	}
	obs.Now = now()
	next, acts := Next(s, obs)
	if (next.Phase == Aborting || next.Phase == Aborted) && *rec == nil {
		if s.Phase == Progressing {
			*breachAt = obs.Now
		}
		inc := d.Incident
		if inc.Kind == "" {
			inc.Kind = store.IncidentAbortedRollout
		}
		inc.Reason, inc.StartedAt = next.Reason, obs.Now
		inc.Timeline = []store.IncidentEvent{{Time: obs.Now, What: "observed: " + next.Reason}}
		*rec = incident.NewRecorder(now, inc)
	}
	for _, a := range acts {
		if err := apply(ctx, d, a, *rec); err != nil {
			return s, fmt.Errorf("%s: %w", a, err)
		}
		if a.Kind == SetWeight && a.Weight == 0 && !breachAt.IsZero() && res.BreachToWeightZero == 0 {
			res.BreachToWeightZero = now().Sub(*breachAt)
		}
		if *rec != nil && a.Kind != RecordEvent {
			(*rec).Addf("applied %s", a)
		}
	}
	if d.Progress != nil && (len(acts) > 0 || len(obs.Gates) > 0) {
		d.Progress(Tick{Time: obs.Now, State: next, Gates: obs.Gates, Actions: acts})
	}
	return next, nil
}

// apply does one action; events go on the incident's timeline while one is recorded.
func apply(ctx context.Context, d Deps, a Action, rec *incident.Recorder) error {
	switch a.Kind {
	case SetWeight:
		return d.Router.SetWeight(ctx, a.Weight)
	case ScaleCanary:
		return d.Workload.ScaleCanary(ctx, a.Replicas)
	case Promote:
		return d.Workload.Promote(ctx)
	case RecordEvent:
		if rec != nil {
			rec.Add(a.Message)
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}
