package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/metrics"
	"github.com/plimsoll/plimsoll/internal/store"
)

// cluster is an in-memory Workload and Router (a test double): scaling makes the canary
// Ready at once, a promotion rolls the primary out on the next observation, and every call
// is logged in order.
type cluster struct {
	mu       sync.Mutex
	log      []string
	replicas int32
	weight   int
	promoted int // observations since Promote; -1 before
	// image is the canary's; while it is unpullable the canary is never Ready and its
	// pods report ImagePullBackOff.
	image, unpullable string
}

func (c *cluster) record(s string) { c.mu.Lock(); c.log = append(c.log, s); c.mu.Unlock() }

func (c *cluster) Prepare(_ context.Context, image string) (PrimaryInfo, error) {
	c.record("Prepare")
	c.mu.Lock()
	c.image = image
	c.mu.Unlock()
	return PrimaryInfo{Replicas: 4, Image: "app:1"}, nil
}

func (c *cluster) Observe(context.Context) (WorkloadStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.promoted >= 0 {
		c.promoted++
	}
	st := WorkloadStatus{CanaryReplicas: c.replicas, CanaryReady: true, PrimaryReady: c.promoted != 0}
	if c.unpullable != "" && c.image == c.unpullable && c.replicas > 0 {
		st.CanaryReady = false
		st.CanaryPullFailures = []kube.PullFailure{{Pod: "app-canary-1", Container: "app", Image: c.image, Reason: "ImagePullBackOff"}}
	}
	return st, nil
}

func (c *cluster) SetCanaryImage(_ context.Context, image string) error {
	c.record("SetCanaryImage(" + image + ")")
	c.mu.Lock()
	c.image = image
	c.mu.Unlock()
	return nil
}

func (c *cluster) ScaleCanary(_ context.Context, n int32) error {
	c.record(fmt.Sprintf("ScaleCanary(%d)", n))
	c.mu.Lock()
	c.replicas = n
	c.mu.Unlock()
	return nil
}

func (c *cluster) Promote(context.Context) error {
	c.record("Promote")
	c.mu.Lock()
	c.promoted = 0
	c.mu.Unlock()
	return nil
}

type clusterRouter struct{ *cluster }

func (r clusterRouter) Prepare(context.Context) error { r.record("RouterPrepare"); return nil }
func (r clusterRouter) Weight(context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.weight, nil
}
func (r clusterRouter) SetWeight(_ context.Context, w int) error {
	r.record(fmt.Sprintf("SetWeight(%d)", w))
	r.mu.Lock()
	r.weight = w
	r.mu.Unlock()
	return nil
}

// gate answers from a script, one outcome per evaluation; past its end it repeats the last.
type gate struct {
	mu     sync.Mutex
	script []metrics.Outcome
	n      int
}

func (g *gate) Name() string { return "scripted" }
func (g *gate) Evaluate(_ context.Context, t metrics.Target) metrics.Measurement {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.script[min(g.n, len(g.script)-1)]
	g.n++
	return metrics.Measurement{Gate: "scripted", Outcome: o, Canary: fmt.Sprint(t.Weight)}
}

// clock advances by a second every time it is read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func runWith(t *testing.T, script []metrics.Outcome) (*cluster, Result, error) {
	t.Helper()
	return runOn(t, &cluster{promoted: -1}, script, nil)
}

func runOn(t *testing.T, c *cluster, script []metrics.Outcome, fallback func(context.Context, string, []kube.PullFailure) (string, string)) (*cluster, Result, error) {
	t.Helper()
	clk := &clock{t: t0}
	d := Deps{
		Workload: c, Router: clusterRouter{c},
		Gates:    []metrics.Gate{&gate{script: script}},
		Target:   metrics.Target{Namespace: "ns", Canary: "app-canary", Primary: "app"},
		Incident: store.Incident{Namespace: "ns", Workload: "app", FromImage: "app:2", ToImage: "app:1"},
		Now:      clk.now,
		Fallback: fallback,
	}
	ctx := context.Background()
	info, err := Begin(ctx, d, "app:2")
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan{Strategy: Canary, Steps: []int{25, 50, 100}, Pause: 2 * time.Second, Replicas: info.Replicas, ReadyTimeout: time.Minute, MaxInconclusive: 2}
	tick := make(chan time.Time)
	close(tick) // every wait for a tick returns at once: the clock drives the pauses
	res, err := Run(ctx, tick, d, Start(plan))
	return c, res, err
}

func TestRunPromotes(t *testing.T) {
	c, res, err := runWith(t, []metrics.Outcome{metrics.Pass})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Phase != Promoted || res.Incident != nil {
		t.Fatalf("state %+v, incident %v", res.State, res.Incident)
	}
	want := []string{"Prepare", "RouterPrepare", "ScaleCanary(1)", "SetWeight(25)", "ScaleCanary(2)", "SetWeight(50)", "ScaleCanary(4)", "SetWeight(100)", "Promote", "SetWeight(0)", "ScaleCanary(0)"}
	if !slices.Equal(c.log, want) {
		t.Fatalf("calls %v\nwant  %v", c.log, want)
	}
}

func TestRunAbortsOnBreach(t *testing.T) {
	// pass, pass at 25 %, then the first evaluation at 50 % fails
	c, res, err := runWith(t, []metrics.Outcome{metrics.Pass, metrics.Pass, metrics.Pass, metrics.Fail})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v, want ErrAborted", err)
	}
	want := []string{"Prepare", "RouterPrepare", "ScaleCanary(1)", "SetWeight(25)", "ScaleCanary(2)", "SetWeight(50)", "SetWeight(0)", "ScaleCanary(0)"}
	if !slices.Equal(c.log, want) {
		t.Fatalf("calls %v\nwant  %v", c.log, want)
	}
	inc := res.Incident
	if inc == nil {
		t.Fatal("no incident")
	}
	if inc.Kind != store.IncidentAbortedRollout || inc.FromImage != "app:2" || !strings.Contains(inc.Reason, "at 50%: scripted fail") {
		t.Fatalf("incident %+v", inc)
	}
	var what []string
	for _, e := range inc.Timeline {
		what = append(what, e.What)
	}
	wantTL := []string{"observed: at 50%: scripted fail canary=50", "applied SetWeight(0)", "applied ScaleCanary(0)", "aborting: traffic back to the primary, canary to 0", "aborted: traffic on the primary, canary at 0"}
	if !slices.Equal(what, wantTL) {
		t.Fatalf("timeline %q\nwant     %q", what, wantTL)
	}
	// the clock moves a second per read: breach observed, then read once after SetWeight(0)
	if res.BreachToWeightZero != time.Second {
		t.Fatalf("breach to weight 0: %s", res.BreachToWeightZero)
	}
	if !inc.EndedAt.After(inc.StartedAt) {
		t.Fatalf("incident %s .. %s", inc.StartedAt, inc.EndedAt)
	}
}

func TestRunAbortsAfterInconclusive(t *testing.T) {
	_, res, err := runWith(t, []metrics.Outcome{metrics.Inconclusive})
	if !errors.Is(err, ErrAborted) || !strings.Contains(res.State.Reason, "2 inconclusive") {
		t.Fatalf("err = %v, state %+v", err, res.State)
	}
}

func TestBeginRefusesALiveCanary(t *testing.T) {
	c := &cluster{promoted: -1, weight: 100}
	_, err := Begin(context.Background(), Deps{Workload: c, Router: clusterRouter{c}}, "app:2")
	if !errors.Is(err, ErrInProgress) {
		t.Fatalf("err = %v, want ErrInProgress", err)
	}
	if len(c.log) != 0 {
		t.Fatalf("calls %v, want none", c.log)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	c := &cluster{promoted: -1}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	plan := Plan{Strategy: Canary, Steps: []int{100}, Pause: time.Hour, Replicas: 1, ReadyTimeout: time.Minute, MaxInconclusive: 2}
	_, err := Run(ctx, make(chan time.Time), Deps{Workload: c, Router: clusterRouter{c}, Gates: []metrics.Gate{&gate{script: []metrics.Outcome{metrics.Pass}}}}, Start(plan))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRunFallsBackWhenTheCanaryCannotPull(t *testing.T) {
	var asked []string
	fallback := func(_ context.Context, image string, failures []kube.PullFailure) (string, string) {
		asked = append(asked, fmt.Sprintf("%s %s", image, failures[0].Reason))
		return "mirror/app@sha256:1", "mirror mirror (same digest)"
	}
	c, res, err := runOn(t, &cluster{promoted: -1, unpullable: "app:2"}, []metrics.Outcome{metrics.Pass}, fallback)
	if err != nil {
		t.Fatalf("%v (%s)", err, res.State.Reason)
	}
	if !slices.Equal(asked, []string{"app:2 ImagePullBackOff"}) {
		t.Errorf("fallback asked %v", asked)
	}
	want := []string{"Prepare", "RouterPrepare", "ScaleCanary(1)", "SetCanaryImage(mirror/app@sha256:1)", "SetWeight(25)"}
	if !slices.Equal(c.log[:len(want)], want) || res.State.Phase != Promoted {
		t.Errorf("log %v, phase %s", c.log, res.State.Phase)
	}
}

func TestRunAbortsWhenTheFallbackHasNothing(t *testing.T) {
	calls := 0
	fallback := func(context.Context, string, []kube.PullFailure) (string, string) {
		calls++
		return "", "offered: mirror/app@sha256:1 (rerun with --fallback apply)"
	}
	c, res, err := runOn(t, &cluster{promoted: -1, unpullable: "app:2"}, []metrics.Outcome{metrics.Pass}, fallback)
	if !errors.Is(err, ErrAborted) || res.Incident == nil {
		t.Fatalf("err %v, incident %v", err, res.Incident)
	}
	for _, want := range []string{"canary cannot pull its image", "ImagePullBackOff", "offered: mirror/app@sha256:1"} {
		if !strings.Contains(res.State.Reason, want) {
			t.Errorf("reason %q lacks %q", res.State.Reason, want)
		}
	}
	if calls != 1 || slices.Contains(c.log, "SetWeight(25)") {
		t.Errorf("fallback called %d times; log %v", calls, c.log)
	}
}

func TestRunAbortsOnPullFailureWithoutFallback(t *testing.T) {
	_, res, err := runOn(t, &cluster{promoted: -1, unpullable: "app:2"}, []metrics.Outcome{metrics.Pass}, nil)
	if !errors.Is(err, ErrAborted) || !strings.Contains(res.State.Reason, "ImagePullBackOff") {
		t.Fatalf("err %v, reason %q", err, res.State.Reason)
	}
}

func TestFinish(t *testing.T) {
	c := &cluster{promoted: -1, replicas: 3}
	d := Deps{Workload: c, Router: clusterRouter{c}, Target: metrics.Target{Canary: "app-canary", Primary: "app"}, Now: (&clock{t: t0}).now}
	bg := Plan{Strategy: BlueGreen, Steps: []int{0, 100}, Replicas: 3, ReadyTimeout: time.Minute, MaxInconclusive: 1}
	ctx := context.Background()
	if _, err := Finish(ctx, d, bg, t0); !errors.Is(err, ErrNothingToFinish) {
		t.Fatalf("Finish with green at 0%%: %v, want ErrNothingToFinish", err)
	}
	c.weight = 100
	s, err := Finish(ctx, d, bg, t0)
	if err != nil {
		t.Fatal(err)
	}
	tick := make(chan time.Time)
	close(tick)
	res, err := Run(ctx, tick, d, s)
	if err != nil || res.State.Phase != Promoted {
		t.Fatalf("Run: %v, phase %s", err, res.State.Phase)
	}
	// blue gets green's spec first; the traffic moves back only once blue has rolled out
	if want := []string{"Promote", "SetWeight(0)", "ScaleCanary(0)"}; !slices.Equal(c.log, want) {
		t.Errorf("log %v, want %v", c.log, want)
	}
}
