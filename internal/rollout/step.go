// Package rollout carries a new image to production progressively — canary (a growing share
// of traffic) or blue/green (a switch with the old version kept scaled) — and takes it back
// when a gate breaches.
//
// The controller is the pure step function Next(State, Observation) → (State, []Action),
// tested tick by tick with an injected clock. Run is the driver: on each tick it observes the
// Workload (Deployment NAME and its canary "NAME-canary"), the Router (Gateway API HTTPRoute,
// ingress-nginx canary Ingress, or a Service selector for blue/green) and the gates
// (internal/metrics), calls Next and applies the actions in order. On a breach traffic goes
// back to the primary FIRST, then the canary is scaled to zero, then the incident is recorded.
package rollout

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/metrics"
)

// Strategy is how the new version takes over.
type Strategy string

const (
	// Canary shifts traffic in steps to a canary Deployment, then promotes its template to
	// the primary and scales the canary down.
	Canary Strategy = "canary"
	// BlueGreen starts the new version (green, the canary Deployment) beside the old (blue,
	// the primary) at full size, checks it, switches all traffic to it, and keeps blue scaled
	// so that a revert is instant.
	BlueGreen Strategy = "bluegreen"
)

// ErrBadPlan is returned (wrapped) by Plan.Validate.
var ErrBadPlan = errors.New("bad rollout plan")

// DefaultSteps are the canary's traffic weights, in percent.
var DefaultSteps = []int{10, 25, 50, 75, 100}

// Plan is what a rollout is asked to do.
type Plan struct {
	Strategy Strategy
	// Steps are the canary's traffic weights in percent, strictly increasing, the last 100.
	// Blue/green always uses [0, 100]: a check of green before the switch, then after it.
	Steps []int
	// Pause is how long each step is held, with the gates passing, before the next.
	Pause time.Duration
	// Replicas is the primary's replica count: a canary step of w % runs ceil(Replicas·w/100)
	// pods (at least one); green runs Replicas.
	Replicas int32
	// ReadyTimeout bounds every wait for readiness: a canary that is not Ready this long after
	// it was scaled, or a primary not rolled out this long after the promotion, aborts.
	ReadyTimeout time.Duration
	// MaxInconclusive is the number of inconclusive gate evaluations in a row that aborts.
	MaxInconclusive int
}

// Validate reports every problem of p at once.
func (p Plan) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadPlan}, args...)...))
	}
	switch p.Strategy {
	case Canary:
		if len(p.Steps) == 0 {
			bad("no steps")
		}
		for i, w := range p.Steps {
			if w <= 0 || w > 100 || (i > 0 && w <= p.Steps[i-1]) {
				bad("steps %v: want weights in 1..100, strictly increasing", p.Steps)
				break
			}
		}
		if n := len(p.Steps); n > 0 && p.Steps[n-1] != 100 {
			bad("steps %v: the last step must be 100", p.Steps)
		}
	case BlueGreen:
		if !slices.Equal(p.Steps, []int{0, 100}) {
			bad("blue/green steps are 0,100, not %v", p.Steps)
		}
	default:
		bad("strategy %q: use canary or bluegreen", p.Strategy)
	}
	if p.Pause < 0 {
		bad("pause %s is negative", p.Pause)
	}
	if p.Replicas < 1 {
		bad("replicas %d: want at least 1", p.Replicas)
	}
	if p.ReadyTimeout <= 0 {
		bad("ready timeout %s: want a positive duration", p.ReadyTimeout)
	}
	if p.MaxInconclusive < 1 {
		bad("max inconclusive %d: want at least 1", p.MaxInconclusive)
	}
	return errors.Join(errs...)
}

// canaryReplicas is the size of the canary at weight w.
func (p Plan) canaryReplicas(w int) int32 {
	if p.Strategy == BlueGreen {
		return p.Replicas
	}
	n := (int64(p.Replicas)*int64(w) + 99) / 100
	return int32(max(n, 1))
}

// Phase is where a rollout is.
type Phase string

const (
	// Progressing: the canary is being sized, or holds a step's weight while the gates run.
	Progressing Phase = "Progressing"
	// Promoting: the canary's template has been copied to the primary, which is rolling out.
	Promoting Phase = "Promoting"
	// Promoted: done; the new version serves all traffic.
	Promoted Phase = "Promoted"
	// Aborting: traffic is being sent back to the primary and the canary scaled to zero.
	Aborting Phase = "Aborting"
	// Aborted: done; traffic is on the primary and the canary at zero.
	Aborted Phase = "Aborted"
)

// Done reports whether ph is final.
func (ph Phase) Done() bool { return ph == Promoted || ph == Aborted }

// State is the controller's whole memory between ticks.
type State struct {
	Plan  Plan
	Phase Phase
	// Step indexes Plan.Steps: the step being prepared or held.
	Step int
	// Weight is the canary weight the controller last set.
	Weight int
	// PausedUntil is when the current step may end (once its weight is set).
	PausedUntil time.Time
	// WaitingSince is when the current wait for readiness began; zero when not waiting.
	WaitingSince time.Time
	// Inconclusive counts the gate evaluations in a row that could not tell.
	Inconclusive int
	// Reason says why the rollout is aborting or aborted.
	Reason string
}

// Start is the state of a rollout that has not begun.
func Start(p Plan) State { return State{Plan: p, Phase: Progressing} }

// Revert is the state that sends traffic back to the primary and scales the canary to zero:
// the blue/green revert, or the clean-up of a rollout that was interrupted.
func Revert(p Plan, reason string) State {
	return State{Plan: p, Phase: Aborting, Reason: reason}
}

// Holding reports whether s holds a step's weight, so the gates are to be evaluated.
func (s State) Holding() bool {
	return s.Phase == Progressing && s.Step < len(s.Plan.Steps) && s.Weight == s.Plan.Steps[s.Step] && s.WaitingSince.IsZero() && !s.PausedUntil.IsZero()
}

// Observation is what the driver saw on one tick.
type Observation struct {
	Now time.Time
	// CanaryReplicas is the canary Deployment's desired size; CanaryReady says all of them
	// are updated and available.
	CanaryReplicas int32
	CanaryReady    bool
	// PrimaryReady says the primary's rollout is complete (kubectl rollout status).
	PrimaryReady bool
	// Weight is the canary weight the router has now.
	Weight int
	// Gates are this tick's gate measurements, evaluated only when the state is Holding.
	Gates []metrics.Measurement
	// PullFailure, when not empty, says why the canary's pods cannot get their image (and
	// what the driver's fallback offers, if anything): waiting for readiness is pointless.
	PullFailure string
}

// ActionKind names what an Action does.
type ActionKind string

const (
	// SetWeight sends Weight % of traffic to the canary (0: all on the primary).
	SetWeight ActionKind = "SetWeight"
	// ScaleCanary sets the canary Deployment's replicas.
	ScaleCanary ActionKind = "ScaleCanary"
	// Promote copies the canary's pod template to the primary.
	Promote ActionKind = "Promote"
	// RecordEvent puts Message on the timeline (and the incident, when there is one).
	RecordEvent ActionKind = "RecordEvent"
)

// Action is one thing the driver must do. Actions are idempotent: the driver may repeat one
// whose outcome it could not confirm.
type Action struct {
	Kind     ActionKind
	Weight   int
	Replicas int32
	Message  string
}

func (a Action) String() string {
	switch a.Kind {
	case SetWeight:
		return fmt.Sprintf("SetWeight(%d)", a.Weight)
	case ScaleCanary:
		return fmt.Sprintf("ScaleCanary(%d)", a.Replicas)
	case RecordEvent:
		return fmt.Sprintf("RecordEvent(%q)", a.Message)
	}
	return string(a.Kind)
}

func setWeight(w int) Action     { return Action{Kind: SetWeight, Weight: w} }
func scaleCanary(n int32) Action { return Action{Kind: ScaleCanary, Replicas: n} }
func record(format string, args ...any) Action {
	return Action{Kind: RecordEvent, Message: fmt.Sprintf(format, args...)}
}

// Next is the controller: from the state and what was observed, the next state and the
// actions that get there, in the order they must be applied. It is pure.
func Next(s State, obs Observation) (State, []Action) {
	switch s.Phase {
	case Progressing:
		return progress(s, obs)
	case Promoting:
		return promoting(s, obs)
	case Aborting:
		return aborting(s, obs)
	}
	return s, nil // Promoted and Aborted are final
}

// abort sends traffic back first, then scales the canary down, then records why.
func abort(s State, reason string) (State, []Action) {
	s.Phase, s.Reason, s.Weight, s.WaitingSince = Aborting, reason, 0, time.Time{}
	return s, []Action{setWeight(0), scaleCanary(0), record("aborting: traffic back to the primary, canary to 0")}
}

func progress(s State, obs Observation) (State, []Action) {
	p := s.Plan
	target := p.Steps[s.Step]
	if s.Weight != target || s.PausedUntil.IsZero() {
		return prepare(s, obs, target)
	}
	// Holding the step: watch the canary and the gates.
	var acts []Action
	if !obs.CanaryReady && obs.PullFailure != "" {
		return abort(s, fmt.Sprintf("canary cannot pull its image at %d%%: %s", s.Weight, obs.PullFailure))
	}
	if !obs.CanaryReady {
		if s.WaitingSince.IsZero() {
			s.WaitingSince = obs.Now
			acts = append(acts, record("canary lost readiness at %d%%", s.Weight))
		}
		if obs.Now.Sub(s.WaitingSince) >= p.ReadyTimeout {
			return abort(s, fmt.Sprintf("canary not Ready for %s at %d%%", p.ReadyTimeout, s.Weight))
		}
		return s, acts
	}
	s.WaitingSince = time.Time{}
	for _, m := range obs.Gates {
		if m.Outcome == metrics.Fail {
			return abort(s, fmt.Sprintf("at %d%%: %s", s.Weight, m))
		}
	}
	if metrics.Worst(obs.Gates) == metrics.Inconclusive {
		s.Inconclusive++
		if s.Inconclusive >= p.MaxInconclusive {
			return abort(s, fmt.Sprintf("%d inconclusive gate evaluations in a row at %d%%", s.Inconclusive, s.Weight))
		}
		return s, append(acts, record("inconclusive (%d of %d) at %d%%, holding: %s", s.Inconclusive, p.MaxInconclusive, s.Weight, firstInconclusive(obs.Gates)))
	}
	s.Inconclusive = 0
	if obs.Now.Before(s.PausedUntil) {
		return s, acts
	}
	if s.Step+1 < len(p.Steps) {
		s.Step++
		s2, more := prepare(s, obs, p.Steps[s.Step])
		return s2, append(acts, more...)
	}
	if p.Strategy == BlueGreen {
		s.Phase = Promoted
		return s, append(acts, record("green serves all traffic; blue kept scaled for revert"))
	}
	s.Phase, s.WaitingSince = Promoting, obs.Now
	return s, append(acts, Action{Kind: Promote}, record("promoting the canary's template to the primary"))
}

func firstInconclusive(ms []metrics.Measurement) string {
	for _, m := range ms {
		if m.Outcome == metrics.Inconclusive {
			return m.String()
		}
	}
	return ""
}

// prepare sizes the canary for weight w, waits for it to be Ready, then sets the weight and
// starts the step's pause.
func prepare(s State, obs Observation, w int) (State, []Action) {
	p := s.Plan
	n := p.canaryReplicas(w)
	var acts []Action
	if s.WaitingSince.IsZero() {
		s.WaitingSince = obs.Now
	}
	if obs.CanaryReplicas != n {
		return s, append(acts, scaleCanary(n))
	}
	if !obs.CanaryReady {
		if obs.PullFailure != "" {
			return abort(s, fmt.Sprintf("canary cannot pull its image: %s", obs.PullFailure))
		}
		if obs.Now.Sub(s.WaitingSince) >= p.ReadyTimeout {
			return abort(s, fmt.Sprintf("canary not Ready %s after scaling to %d", p.ReadyTimeout, n))
		}
		return s, acts
	}
	s.Weight, s.WaitingSince, s.Inconclusive = w, time.Time{}, 0
	s.PausedUntil = obs.Now.Add(p.Pause)
	return s, append(acts, setWeight(w), record("step %d/%d: weight %d%%, %d canary pods, holding %s", s.Step+1, len(p.Steps), w, n, p.Pause))
}

// promoting waits for the primary's rollout of the promoted template, then moves traffic
// back to it and scales the canary down.
func promoting(s State, obs Observation) (State, []Action) {
	if !obs.PrimaryReady {
		if obs.Now.Sub(s.WaitingSince) >= s.Plan.ReadyTimeout {
			// Traffic stays on the canary: the primary is what failed.
			s.Phase, s.Reason = Aborted, fmt.Sprintf("primary not rolled out %s after the promotion; traffic left on the canary", s.Plan.ReadyTimeout)
			return s, []Action{record("%s", s.Reason)}
		}
		return s, nil
	}
	s.Phase, s.Weight, s.WaitingSince = Promoted, 0, time.Time{}
	return s, []Action{setWeight(0), scaleCanary(0), record("promoted: the primary runs the new version; canary scaled to 0")}
}

// aborting repeats what is not confirmed yet, in order, until traffic is on the primary and
// the canary at zero.
func aborting(s State, obs Observation) (State, []Action) {
	var acts []Action
	if obs.Weight != 0 {
		acts = append(acts, setWeight(0))
	}
	if obs.CanaryReplicas != 0 {
		acts = append(acts, scaleCanary(0))
	}
	if len(acts) > 0 {
		return s, acts
	}
	s.Phase, s.Weight = Aborted, 0
	return s, []Action{record("aborted: traffic on the primary, canary at 0")}
}
