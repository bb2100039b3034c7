package rollout

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/metrics"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func canaryPlan() Plan {
	return Plan{Strategy: Canary, Steps: []int{10, 50, 100}, Pause: 30 * time.Second, Replicas: 4,
		ReadyTimeout: time.Minute, MaxInconclusive: 3}
}

var (
	pass = []metrics.Measurement{{Gate: "success-rate", Outcome: metrics.Pass, Canary: "0.999"}}
	fail = []metrics.Measurement{{Gate: "success-rate", Outcome: metrics.Fail, Canary: "0.93", Threshold: ">= 0.99"}}
	inc  = []metrics.Measurement{{Gate: "success-rate", Outcome: metrics.Inconclusive, Message: "no data"}}
)

// tick is one call of Next: what was observed, and what must come out.
type tick struct {
	obs      Observation
	phase    Phase
	actions  []string // Action.String() of each, RecordEvent shortened to "Record"
	holding  bool
	reasonIn string
}

func short(acts []Action) []string {
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		if a.Kind == RecordEvent {
			out = append(out, "Record")
			continue
		}
		out = append(out, a.String())
	}
	return out
}

func TestNext(t *testing.T) {
	bg := Plan{Strategy: BlueGreen, Steps: []int{0, 100}, Pause: 10 * time.Second, Replicas: 3, ReadyTimeout: time.Minute, MaxInconclusive: 2}
	tests := []struct {
		name  string
		start State
		ticks []tick
	}{
		{name: "canary promoted through every step", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0)}, phase: Progressing, actions: []string{"ScaleCanary(1)"}},
			{obs: Observation{Now: at(1), CanaryReplicas: 1}, phase: Progressing, actions: []string{}},
			{obs: Observation{Now: at(2), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(12), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: pass}, phase: Progressing, actions: []string{}, holding: true},
			// the pause is over and the gates pass: the canary grows before it gets more traffic
			{obs: Observation{Now: at(32), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: pass}, phase: Progressing, actions: []string{"ScaleCanary(2)"}},
			{obs: Observation{Now: at(33), CanaryReplicas: 2, CanaryReady: false, Weight: 10}, phase: Progressing, actions: []string{}},
			{obs: Observation{Now: at(34), CanaryReplicas: 2, CanaryReady: true, Weight: 10}, phase: Progressing, actions: []string{"SetWeight(50)", "Record"}, holding: true},
			{obs: Observation{Now: at(64), CanaryReplicas: 2, CanaryReady: true, Weight: 50, Gates: pass}, phase: Progressing, actions: []string{"ScaleCanary(4)"}},
			{obs: Observation{Now: at(65), CanaryReplicas: 4, CanaryReady: true, Weight: 50}, phase: Progressing, actions: []string{"SetWeight(100)", "Record"}, holding: true},
			{obs: Observation{Now: at(95), CanaryReplicas: 4, CanaryReady: true, Weight: 100, Gates: pass}, phase: Promoting, actions: []string{"Promote", "Record"}},
			{obs: Observation{Now: at(96), CanaryReplicas: 4, CanaryReady: true, Weight: 100}, phase: Promoting, actions: nil},
			{obs: Observation{Now: at(97), CanaryReplicas: 4, CanaryReady: true, Weight: 100, PrimaryReady: true}, phase: Promoted, actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}},
			{obs: Observation{Now: at(98)}, phase: Promoted, actions: nil},
		}},
		{name: "breach at 50%: weight 0 first, then canary 0, then record", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(30), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: pass}, phase: Progressing, actions: []string{"ScaleCanary(2)"}},
			{obs: Observation{Now: at(31), CanaryReplicas: 2, CanaryReady: true, Weight: 10}, phase: Progressing, actions: []string{"SetWeight(50)", "Record"}, holding: true},
			{obs: Observation{Now: at(35), CanaryReplicas: 2, CanaryReady: true, Weight: 50, Gates: fail}, phase: Aborting,
				actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "at 50%: success-rate fail canary=0.93"},
			// the router has not confirmed yet: repeat, in the same order
			{obs: Observation{Now: at(36), CanaryReplicas: 0, Weight: 50}, phase: Aborting, actions: []string{"SetWeight(0)"}},
			{obs: Observation{Now: at(37), CanaryReplicas: 0, Weight: 0}, phase: Aborted, actions: []string{"Record"}},
		}},
		{name: "inconclusive holds the step, then aborts after N in a row", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(30), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
			{obs: Observation{Now: at(31), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
			{obs: Observation{Now: at(32), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Aborting,
				actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "3 inconclusive"},
		}},
		{name: "a pass resets the inconclusive count", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(5), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
			{obs: Observation{Now: at(6), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
			{obs: Observation{Now: at(7), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: pass}, phase: Progressing, actions: []string{}, holding: true},
			{obs: Observation{Now: at(8), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
			{obs: Observation{Now: at(9), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: inc}, phase: Progressing, actions: []string{"Record"}, holding: true},
		}},
		{name: "canary never Ready (bad image) aborts after the ready timeout", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0)}, phase: Progressing, actions: []string{"ScaleCanary(1)"}},
			{obs: Observation{Now: at(59), CanaryReplicas: 1}, phase: Progressing, actions: []string{}},
			{obs: Observation{Now: at(60), CanaryReplicas: 1}, phase: Aborting, actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "not Ready 1m0s after scaling to 1"},
			{obs: Observation{Now: at(61)}, phase: Aborted, actions: []string{"Record"}},
		}},
		{name: "a canary that cannot pull its image aborts at once, without waiting for the ready timeout", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0)}, phase: Progressing, actions: []string{"ScaleCanary(1)"}},
			{obs: Observation{Now: at(1), CanaryReplicas: 1}, phase: Progressing, actions: []string{}},
			{obs: Observation{Now: at(3), CanaryReplicas: 1, PullFailure: "ImagePullBackOff"}, phase: Aborting,
				actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "canary cannot pull its image: ImagePullBackOff"},
		}},
		{name: "a pull failure while a step is held (the canary grew) aborts", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(5), CanaryReplicas: 1, Weight: 10, PullFailure: "ErrImagePull"}, phase: Aborting,
				actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "at 10%: ErrImagePull"},
		}},
		{name: "a pull failure on a Ready canary is not yet a reason to abort", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true, PullFailure: "ImagePullBackOff"}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(5), CanaryReplicas: 1, CanaryReady: true, Weight: 10, Gates: pass, PullFailure: "ImagePullBackOff"}, phase: Progressing, actions: []string{}, holding: true},
		}},
		{name: "canary losing readiness while held aborts after the ready timeout", start: Start(canaryPlan()), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 1, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(10)", "Record"}, holding: true},
			{obs: Observation{Now: at(10), CanaryReplicas: 1, Weight: 10}, phase: Progressing, actions: []string{"Record"}},
			{obs: Observation{Now: at(20), CanaryReplicas: 1, Weight: 10}, phase: Progressing, actions: []string{}},
			{obs: Observation{Now: at(25), CanaryReplicas: 1, CanaryReady: true, Weight: 10}, phase: Progressing, actions: []string{}, holding: true},
			{obs: Observation{Now: at(26), CanaryReplicas: 1, Weight: 10}, phase: Progressing, actions: []string{"Record"}},
			{obs: Observation{Now: at(86), CanaryReplicas: 1, Weight: 10}, phase: Aborting, actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "not Ready for 1m0s at 10%"},
		}},
		{name: "primary not rolled out after the promotion leaves traffic on the canary", start: State{Plan: canaryPlan(), Phase: Promoting, Step: 2, Weight: 100, WaitingSince: at(0)}, ticks: []tick{
			{obs: Observation{Now: at(30), CanaryReplicas: 4, CanaryReady: true, Weight: 100}, phase: Promoting, actions: nil},
			{obs: Observation{Now: at(60), CanaryReplicas: 4, CanaryReady: true, Weight: 100}, phase: Aborted, actions: []string{"Record"}, reasonIn: "traffic left on the canary"},
		}},
		{name: "blue/green: green at full size, checked, switched, blue kept", start: Start(bg), ticks: []tick{
			{obs: Observation{Now: at(0)}, phase: Progressing, actions: []string{"ScaleCanary(3)"}},
			{obs: Observation{Now: at(1), CanaryReplicas: 3, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(0)", "Record"}, holding: true},
			{obs: Observation{Now: at(11), CanaryReplicas: 3, CanaryReady: true, Gates: pass}, phase: Progressing, actions: []string{"SetWeight(100)", "Record"}, holding: true},
			{obs: Observation{Now: at(21), CanaryReplicas: 3, CanaryReady: true, Weight: 100, Gates: pass}, phase: Promoted, actions: []string{"Record"}},
		}},
		{name: "blue/green: breach after the switch switches back", start: Start(bg), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 3, CanaryReady: true}, phase: Progressing, actions: []string{"SetWeight(0)", "Record"}, holding: true},
			{obs: Observation{Now: at(10), CanaryReplicas: 3, CanaryReady: true, Gates: pass}, phase: Progressing, actions: []string{"SetWeight(100)", "Record"}, holding: true},
			{obs: Observation{Now: at(12), CanaryReplicas: 3, CanaryReady: true, Weight: 100, Gates: fail}, phase: Aborting, actions: []string{"SetWeight(0)", "ScaleCanary(0)", "Record"}, reasonIn: "at 100%"},
		}},
		{name: "revert of a live green", start: Revert(bg, "requested"), ticks: []tick{
			{obs: Observation{Now: at(0), CanaryReplicas: 3, CanaryReady: true, Weight: 100}, phase: Aborting, actions: []string{"SetWeight(0)", "ScaleCanary(0)"}},
			{obs: Observation{Now: at(1), Weight: 0}, phase: Aborted, actions: []string{"Record"}, reasonIn: "requested"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start
			for i, tk := range tt.ticks {
				var acts []Action
				s, acts = Next(s, tk.obs)
				if got, want := short(acts), tk.actions; !slices.Equal(got, want) {
					t.Fatalf("tick %d (t=%s): actions %v, want %v", i, tk.obs.Now.Sub(t0), got, want)
				}
				if s.Phase != tk.phase {
					t.Fatalf("tick %d: phase %s, want %s (reason %q)", i, s.Phase, tk.phase, s.Reason)
				}
				if s.Holding() != tk.holding {
					t.Fatalf("tick %d: Holding() = %v, want %v (%+v)", i, s.Holding(), tk.holding, s)
				}
				if tk.reasonIn != "" && !strings.Contains(s.Reason, tk.reasonIn) {
					t.Fatalf("tick %d: reason %q, want it to contain %q", i, s.Reason, tk.reasonIn)
				}
			}
		})
	}
}

func TestCanaryReplicas(t *testing.T) {
	tests := []struct {
		replicas int32
		weight   int
		want     int32
	}{
		{4, 10, 1}, {4, 25, 1}, {4, 50, 2}, {4, 75, 3}, {4, 100, 4}, {1, 10, 1}, {10, 25, 3}, {3, 0, 1},
	}
	for _, tt := range tests {
		p := Plan{Strategy: Canary, Replicas: tt.replicas}
		if got := p.canaryReplicas(tt.weight); got != tt.want {
			t.Errorf("replicas %d weight %d: %d canary pods, want %d", tt.replicas, tt.weight, got, tt.want)
		}
	}
	if got := (Plan{Strategy: BlueGreen, Replicas: 5}).canaryReplicas(0); got != 5 {
		t.Errorf("green runs %d pods, want 5", got)
	}
}

func TestPlanValidate(t *testing.T) {
	ok := canaryPlan()
	tests := []struct {
		name   string
		change func(*Plan)
		want   string // "" valid
	}{
		{"valid canary", func(*Plan) {}, ""},
		{"valid blue/green", func(p *Plan) { p.Strategy, p.Steps = BlueGreen, []int{0, 100} }, ""},
		{"unknown strategy", func(p *Plan) { p.Strategy = "rainbow" }, `strategy "rainbow"`},
		{"no steps", func(p *Plan) { p.Steps = nil }, "no steps"},
		{"not increasing", func(p *Plan) { p.Steps = []int{10, 10, 100} }, "strictly increasing"},
		{"zero step", func(p *Plan) { p.Steps = []int{0, 100} }, "strictly increasing"},
		{"over 100", func(p *Plan) { p.Steps = []int{50, 150} }, "strictly increasing"},
		{"last not 100", func(p *Plan) { p.Steps = []int{10, 50} }, "last step must be 100"},
		{"blue/green steps", func(p *Plan) { p.Strategy = BlueGreen }, "blue/green steps"},
		{"negative pause", func(p *Plan) { p.Pause = -time.Second }, "negative"},
		{"no replicas", func(p *Plan) { p.Replicas = 0 }, "replicas 0"},
		{"no ready timeout", func(p *Plan) { p.ReadyTimeout = 0 }, "ready timeout"},
		{"no inconclusive budget", func(p *Plan) { p.MaxInconclusive = 0 }, "max inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			p.Steps = slices.Clone(ok.Steps)
			tt.change(&p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrBadPlan) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadPlan containing %q", err, tt.want)
			}
		})
	}
}
