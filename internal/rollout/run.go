package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plimsoll/plimsoll/internal/incident"
	"github.com/plimsoll/plimsoll/internal/kube"
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
	// Fallback, when set, is asked once, when the canary's pods cannot pull image, for an
	// image to switch the canary to instead. It returns that image, or "" and a note the
	// abort reason carries (what it offers instead, or why it has nothing).
	Fallback func(ctx context.Context, image string, failures []kube.PullFailure) (use, note string)
	Logger   *slog.Logger
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
	// FallbackImage is the image the canary was switched to by Fallback, "" when it was not.
	FallbackImage string
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

// ErrNothingToFinish is returned (wrapped) by Finish when green does not serve all traffic.
var ErrNothingToFinish = errors.New("no blue/green switch to finish")

// Finish makes a blue/green promotion permanent: blue (the primary) gets green's pod spec,
// and the state returned waits, as a canary's promotion does, for blue to roll out before
// traffic switches back to it and green is scaled to zero. Green must serve all traffic.
func Finish(ctx context.Context, d Deps, p Plan, now time.Time) (State, error) {
	w, err := d.Router.Weight(ctx)
	if err != nil {
		return State{}, err
	}
	if w != 100 {
		return State{}, fmt.Errorf("%w: %s has %d%% of the traffic, not all of it", ErrNothingToFinish, d.Target.Canary, w)
	}
	if err := d.Workload.Promote(ctx); err != nil {
		return State{}, err
	}
	return State{Plan: p, Phase: Promoting, Step: len(p.Steps) - 1, Weight: 100, WaitingSince: now}, nil
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
	r := &driver{Deps: d, now: now}
	failures := 0
	for {
		prev := s
		next, err := r.round(ctx, s)
		if err == nil {
			s, failures = next, 0
		} else {
			failures++
			log.Warn("rollout round failed", "err", err, "failures", failures)
			if r.rec != nil {
				r.rec.Addf("error: %v", err)
			}
			if failures >= maxErrors || ctx.Err() != nil {
				r.res.State = s
				return r.res, fmt.Errorf("rollout of %s: %w", d.Target.Primary, err)
			}
		}
		if s.Phase.Done() {
			r.res.State = s
			if r.rec != nil {
				r.rec.End()
				inc := r.rec.Incident()
				r.res.Incident = &inc
			}
			if s.Phase == Aborted {
				return r.res, fmt.Errorf("%w: %s", ErrAborted, s.Reason)
			}
			return r.res, nil
		}
		if err == nil && changed(prev, s) {
			continue
		}
		select {
		case <-ctx.Done():
			r.res.State = s
			return r.res, ctx.Err()
		case <-tick:
		}
	}
}

// driver is what Run remembers between rounds besides the State.
type driver struct {
	Deps
	now      func() time.Time
	res      Result
	rec      *incident.Recorder // the incident, once an abort began
	breachAt time.Time          // when the breach that began the abort was observed
	// fellBack is set once Fallback has been asked; fallbackNote is what it said.
	fellBack     bool
	fallbackNote string
}

// changed reports whether a round moved the rollout on, so the next round runs at once.
func changed(a, b State) bool {
	return a.Phase != b.Phase || a.Step != b.Step || a.Weight != b.Weight || !a.WaitingSince.Equal(b.WaitingSince) || !a.PausedUntil.Equal(b.PausedUntil)
}

// round observes, steps and applies. It returns the new state only when every action was
// applied; otherwise the same state is stepped again next time (actions are idempotent).
func (r *driver) round(ctx context.Context, s State) (State, error) {
	d := &r.Deps
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
	var fellBack []Action
	if len(ws.CanaryPullFailures) > 0 {
		if fellBack, err = r.pullFailed(ctx, ws.CanaryPullFailures, &obs); err != nil {
			return s, err
		}
	}
	obs.Now = r.now()
	next, acts := Next(s, obs)
	acts = append(fellBack, acts...)
	if (next.Phase == Aborting || next.Phase == Aborted) && r.rec == nil {
		if s.Phase == Progressing {
			r.breachAt = obs.Now
		}
		inc := d.Incident
		if inc.Kind == "" {
			inc.Kind = store.IncidentAbortedRollout
		}
		inc.Reason, inc.StartedAt = next.Reason, obs.Now
		inc.Timeline = []store.IncidentEvent{{Time: obs.Now, What: "observed: " + next.Reason}}
		r.rec = incident.NewRecorder(r.now, inc)
	}
	for _, a := range acts {
		if err := apply(ctx, *d, a, r.rec); err != nil {
			return s, fmt.Errorf("%s: %w", a, err)
		}
		if a.Kind == SetWeight && a.Weight == 0 && !r.breachAt.IsZero() && r.res.BreachToWeightZero == 0 {
			r.res.BreachToWeightZero = r.now().Sub(r.breachAt)
		}
		if r.rec != nil && a.Kind != RecordEvent {
			r.rec.Addf("applied %s", a)
		}
	}
	if d.Progress != nil && (len(acts) > 0 || len(obs.Gates) > 0) {
		d.Progress(Tick{Time: obs.Now, State: next, Gates: obs.Gates, Actions: acts})
	}
	return next, nil
}

// pullFailed handles the canary's pods failing to pull their image: the first time, Fallback
// may give an image, which the canary is switched to (obs then reports no failure; the
// returned event says what happened); otherwise obs.PullFailure says why, for Next to abort.
func (r *driver) pullFailed(ctx context.Context, failures []kube.PullFailure, obs *Observation) ([]Action, error) {
	f := failures[0]
	obs.PullFailure = f.String()
	if r.Fallback != nil && !r.fellBack {
		use, note := r.Fallback(ctx, f.Image, failures)
		if use != "" {
			if err := r.Workload.SetCanaryImage(ctx, use); err != nil {
				return nil, err // asked again next round
			}
			r.fellBack, obs.PullFailure, r.res.FallbackImage = true, "", use
			return []Action{record("canary image %s cannot be pulled (%s): switched the canary to %s %s", f.Image, f.Reason, use, note)}, nil
		}
		r.fellBack, r.fallbackNote = true, note
	}
	if r.fallbackNote != "" {
		obs.PullFailure += "; " + r.fallbackNote
	}
	return nil, nil
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
