// Package soak is Layer 6's engine and `plimsoll soak`: it runs an image (or OLD and NEW side
// by side, under the same load and limits) under continuous load for hours, samples it every
// interval, keeps every sample in the store as it is taken, and judges the trends.
//
// Each sample reads, per image: anonymous memory (RSS) and CPU time from the container's cgroup
// (runtime.Instance.Stats); open file descriptors, threads and TCP sockets by state from the
// host's /proc of the container's main process (so shell-less images are sampled too); one
// health probe on 127.0.0.1; and the error lines the logs gained (launch.ScanLogs's crash
// patterns and the policy's errorPatterns). Samples are stored as "<image>.<metric>"
// ("new.rss_bytes", "old.fds") with one "tick" per sampling round.
//
// Judging (Analyze) reads trends, not two points: after the warm-up, the Theil–Sen slope of
// memory, FDs and connections with a 90 % interval (internal/stats), projected to the end of
// the soak. A rise counts as a leak only when the interval is above zero and the floor of the
// series (its lowest values late against early) rises with it, so a GC sawtooth is not a leak.
// Leaks are flagged as soon as they show, and the soak stops at once at a stop limit (memory
// grown past memoryStop, FDs or connections at their limit, sustained health failures, the
// container gone). With OLD, NEW's findings are compared with OLD's (Results).
//
// A soak outlives its process: resume metadata (State) is written atomically beside the
// default store, the containers carry a keep-until label that GC respects, and Run with
// Options.Resume adopts the still-running containers (or restarts them, saying so), reloads
// the samples from the store and continues; the soak observes its full number of samples, so
// its verdict is the one an uninterrupted soak reaches. One process at a time runs a soak: the
// one holding its lease in the store (LeaseTTL says when a lease is taken over), and each tick
// is stored once whatever happens.
package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"regexp"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/load"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/store"
)

// Errors callers branch on.
var (
	// ErrFinished: the soak to resume has already finished.
	ErrFinished = errors.New("the soak has already finished")
	// ErrStillRunning: the soak is still being run by a live plimsoll process, which holds its
	// lease (LeaseTTL).
	ErrStillRunning = errors.New("the soak is still running")
)

// Options say what to soak and where the samples go.
type Options struct {
	RunID string
	// Old and New are the images; Old is nil to soak NEW alone. On resume they may be nil:
	// then a container that is gone cannot be restarted.
	Old, New *image.Image
	App      config.App
	// Soak is the policy's soak section; its zero fields take the seed's values.
	Soak    config.Soak
	Runtime runtime.Runtime
	Loader  launch.Loader
	// Adopt finds the container of a run's role that an earlier plimsoll process started
	// (runtime/docker.Runtime.Adopt), an error wrapping runtime.ErrRemoved when there is none.
	// Resuming needs it.
	Adopt func(ctx context.Context, runID, role string) (runtime.Instance, error)
	// Store receives every sample as it is taken; nil keeps them in memory only (and the soak
	// cannot be resumed).
	Store store.Store
	// StoreDSN is recorded in the resume metadata, for the resuming process to open.
	StoreDSN string
	// StatePath is where the resume metadata is written; "" for none.
	StatePath string
	// KeepLabel, when set, is a container label set to the time until which the containers
	// must outlive this process (runtime/docker.LabelKeepUntil): the end of the soak and an
	// hour of grace.
	KeepLabel string
	// Resume, when set, continues the soak it describes instead of starting one.
	Resume *State
	// Progress receives an event after every sample and on news; nil for none.
	Progress func(Progress)
	Log      *slog.Logger
}

// Progress is the state of a soak after a sample.
type Progress struct {
	Tick, Ticks        int
	Elapsed, Remaining time.Duration
	// Images are the latest readings, by image name.
	Images map[string]Snapshot
	// Note is news ("resumed after 12s unobserved", "NEW memory leak suspected"); "" for none.
	Note string
}

// Snapshot is the latest reading of one image.
type Snapshot struct {
	RSS float64
	// Growth is the memory growth projected over the soak, percent; NaN before the trend.
	Growth     float64
	FDs        float64
	HealthRate float64 // percent of probes passed so far
	Leak       bool
}

// Outcome is a finished (or stopped) soak.
type Outcome struct {
	RunID    string
	Start    time.Time
	Window   Window
	Interval time.Duration
	// Ticks is the number of sampling rounds observed, of Planned.
	Ticks, Planned int
	// Recordings and Analyses are by image name ("old", "new").
	Recordings map[string]*Recording
	Analyses   map[string]*Analysis
	// Stopped says why the soak ended before its end, "" when it ran to it.
	Stopped string
	// Notes are what happened on the way (resumed, restarted containers).
	Notes []string
	// Load is what the generator sent, by image name.
	Load map[string]LoadTotals
}

// LoadTotals counts the load sent to one image.
type LoadTotals struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

// side is one image of the soak.
type side struct {
	name string
	img  *image.Image
	inst runtime.Instance
	port int
	smp  *sampler
	rec  *Recording
	// restart is set when the container of a resumed soak had to be started again;
	// flagged once a leak of it was announced.
	restart, flagged bool
}

// Run soaks, or resumes a soak, and returns its outcome. The containers are stopped when the
// soak ends; when ctx is cancelled and a resumable soak is interrupted (Store, StatePath and
// KeepLabel set) they are left running for Resume, and Run returns ctx's error.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	if o.Resume != nil {
		if o.Resume.Finished {
			return nil, fmt.Errorf("soak %s: %w (%s)", o.Resume.RunID, ErrFinished, o.Resume.Decision)
		}
		// The process the resume metadata names (a soak started before soaks took leases).
		if pid := o.Resume.PID; pid > 0 && pid != os.Getpid() && alive(pid) {
			return nil, fmt.Errorf("soak %s: %w as process %d on this host", o.Resume.RunID, ErrStillRunning, pid)
		}
		if o.Store == nil || o.Adopt == nil {
			return nil, errors.New("soak: resuming needs the store and a runtime that adopts containers")
		}
		o.RunID, o.Soak, o.App = o.Resume.RunID, o.Resume.Soak, o.Resume.App
	} else if o.New == nil {
		return nil, errors.New("soak: no image")
	}
	// One process at a time runs a soak: the one holding its lease.
	if o.Store != nil {
		var release func()
		var err error
		if ctx, release, err = o.hold(ctx); err != nil {
			return nil, err
		}
		defer release()
	}
	sp := o.Soak.WithDefaults()
	w := Window{Warmup: sp.Warmup, Duration: sp.Duration}
	planned := int(sp.Duration / sp.Interval)
	resumable := o.Store != nil && o.StatePath != "" && o.KeepLabel != ""
	extra, err := compilePatterns(sp.ErrorPatterns)
	if err != nil {
		return nil, err
	}

	sides := []*side{{name: "new", img: o.New}}
	if o.Old != nil || o.Resume != nil && o.Resume.Images["old"].Ref != "" {
		sides = []*side{{name: "old", img: o.Old}, sides[0]}
		if err := launch.Together(o.App); err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
	}
	out := &Outcome{RunID: o.RunID, Window: w, Interval: sp.Interval, Planned: planned, Recordings: map[string]*Recording{},
		Analyses: map[string]*Analysis{}, Load: map[string]LoadTotals{}}
	keepUntil := time.Now().Add(sp.Duration + time.Hour)
	rt := o.Runtime
	if o.KeepLabel != "" {
		rt = labelled{rt: o.Runtime, labels: map[string]string{o.KeepLabel: keepUntil.UTC().Format(time.RFC3339)}}
	}
	stopAll := true
	defer func() {
		// A soak another process took over keeps its containers: they are that process's now.
		if !stopAll || errors.Is(context.Cause(ctx), store.ErrLeaseLost) {
			return
		}
		for _, sd := range sides {
			if sd.inst != nil {
				_ = sd.inst.Stop(context.WithoutCancel(ctx))
			}
		}
	}()

	// The containers: started, or adopted from the process that was killed.
	st := o.Resume
	if st == nil {
		st = &State{RunID: o.RunID, Soak: sp, App: o.App, Images: map[string]StateImage{}, Containers: map[string]string{}, Store: o.StoreDSN}
	}
	for _, sd := range sides {
		note, err := o.attach(ctx, rt, sd, st)
		if err != nil {
			return nil, err
		}
		if note != "" {
			out.Notes = append(out.Notes, note)
			o.Progress(Progress{Note: note, Ticks: planned})
		}
	}
	st.PID = os.Getpid()
	now := time.Now()
	if o.Resume == nil {
		st.StartedAt = now
	}
	out.Start = st.StartedAt
	if o.StatePath != "" {
		if err := WriteState(o.StatePath, st); err != nil {
			return nil, err
		}
	}

	// The samples so far.
	for _, sd := range sides {
		sd.rec = &Recording{}
		out.Recordings[sd.name] = sd.rec
	}
	if o.Resume != nil {
		ss, err := o.Store.Samples(ctx, o.RunID, 0)
		if err != nil {
			return nil, fmt.Errorf("soak %s: read the samples so far: %w", o.RunID, err)
		}
		recs, ticks, err := Recordings(out.Start, ss)
		if err != nil {
			return nil, err
		}
		for _, sd := range sides {
			if r := recs[sd.name]; r != nil {
				*sd.rec = *r
			}
		}
		out.Ticks = ticks
		var last time.Time
		if len(ss) > 0 {
			last = ss[len(ss)-1].Time
		}
		note := fmt.Sprintf("resumed at sample %d of %d after %s unobserved", ticks, planned, now.Sub(last).Round(100*time.Millisecond))
		out.Notes = append(out.Notes, note)
		o.Progress(Progress{Note: note, Tick: ticks, Ticks: planned})
	}
	for _, sd := range sides {
		ep := ""
		if sd.port != 0 {
			if ep, err = sd.inst.Endpoint(ctx, sd.port); err != nil {
				return nil, fmt.Errorf("soak %s: %w", sd.name, err)
			}
		}
		health := sp.HealthPath
		if health == "" {
			health = o.App.Health.HTTP
		}
		timeout := min(max(sp.Interval/2, 100*time.Millisecond), 5*time.Second)
		if sd.smp, err = newSampler(ctx, sd.name, sd.inst, ep, health, o.App.Health.Status, timeout, extra); err != nil {
			return nil, err
		}
		if n := sd.rec.LogLines.Len(); n > 0 && !sd.restart {
			sd.smp.logs.lines = int(sd.rec.LogLines.last())
		}
		sd.smp.logs.errors = int(sd.rec.ErrorLines.last())
	}

	// The load, for the whole soak.
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, sd := range sides {
		if sd.smp.probe == nil {
			continue // no port: no load
		}
		ep, _ := sd.inst.Endpoint(ctx, sd.port)
		cfg := load.OpenConfig{Rate: sp.Load.Rate, Connections: sp.Load.Connections, Mix: loadMix(sp.Load.Mix),
			Duration: min(max(sp.Interval, time.Second), 10*time.Second)}
		wg.Go(func() {
			for lctx.Err() == nil {
				sum, err := load.RunOpen(lctx, cfg, load.Target{Name: sd.name, BaseURL: "http://" + ep})
				mu.Lock()
				t := out.Load[sd.name]
				t.Requests += sum.Requests
				t.Errors += sum.Errors
				out.Load[sd.name] = t
				mu.Unlock()
				if err != nil && !errors.Is(err, load.ErrGeneratorBehind) && lctx.Err() == nil {
					o.Log.Warn("soak load", "image", sd.name, "err", err)
					select {
					case <-lctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		})
	}
	defer func() {
		stopLoad()
		wg.Wait()
	}()

	// The samples.
	tick := time.NewTicker(sp.Interval)
	defer tick.Stop()
	cpus := o.App.CPUs
	if cpus <= 0 {
		cpus = float64(goruntime.NumCPU())
	}
	for out.Ticks < planned {
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
				return nil, fmt.Errorf("soak %s stopped at sample %d of %d: %w", o.RunID, out.Ticks, planned, cause)
			}
			stopAll = !resumable
			return nil, fmt.Errorf("soak %s interrupted at sample %d of %d: %w", o.RunID, out.Ticks, planned, ctx.Err())
		case <-tick.C:
		}
		now := time.Now()
		points := make([]Point, len(sides))
		var sw sync.WaitGroup
		for i, sd := range sides {
			sw.Go(func() { points[i] = sd.smp.sample(ctx, now) })
		}
		sw.Wait()
		if ctx.Err() != nil {
			continue // a sample cut short is not stored; the select above returns
		}
		n := int64(out.Ticks + 1)
		ss := []store.Sample{{Time: now, Metric: TickMetric, Value: float64(n)}}
		for i, sd := range sides {
			ss = append(ss, points[i].samples(sd.name)...)
		}
		for i := range ss {
			ss[i].Tick = n
		}
		if o.Store != nil {
			if err := o.Store.AppendSamples(context.WithoutCancel(ctx), o.RunID, ss...); err != nil {
				return nil, fmt.Errorf("soak %s: store sample %d: %w", o.RunID, out.Ticks+1, err)
			}
		}
		out.Ticks++
		for i, sd := range sides {
			sd.rec.record(out.Start, sd.name, ss[1:])
			if !points[i].Running && sd.rec.Exit == "" {
				sd.rec.Exit = points[i].Exit
			}
		}
		pr := Progress{Tick: out.Ticks, Ticks: planned, Elapsed: now.Sub(out.Start),
			Remaining: time.Duration(planned-out.Ticks) * sp.Interval, Images: map[string]Snapshot{}}
		stopped := ""
		for i, sd := range sides {
			a := Analyze(sd.rec, w, sp.Limits, cpus)
			out.Analyses[sd.name] = &a
			pr.Images[sd.name] = snapshot(points[i], &a, sd.rec)
			if a.Memory.Leak && (a.Memory.Status == check.StatusWarn || a.Memory.Status == check.StatusFail) && !sd.flagged {
				sd.flagged = true
				pr.Note = fmt.Sprintf("%s: memory leak suspected: %+.0f %% projected over the soak", upper(sd.name), a.Memory.Growth)
				out.Notes = append(out.Notes, fmt.Sprintf("sample %d: %s", out.Ticks, pr.Note))
			}
			if f, ok := a.Stop(); ok && stopped == "" {
				stopped = fmt.Sprintf("%s %s: %s", upper(sd.name), f.Check, f.Message)
			}
		}
		if stopped != "" {
			pr.Note = "stopping: " + stopped
		}
		o.Progress(pr)
		if stopped != "" {
			out.Stopped = stopped
			break
		}
	}
	for _, sd := range sides {
		a := Analyze(sd.rec, w, sp.Limits, cpus)
		out.Analyses[sd.name] = &a
	}
	if o.StatePath != "" {
		st.Finished = true
		if err := WriteState(o.StatePath, st); err != nil {
			o.Log.Warn("soak: mark the soak finished", "err", err)
		}
	}
	return out, nil
}

// attach starts the container of sd, or on resume adopts it, restarting it when it is gone.
// It returns a note when it had to restart one.
func (o *Options) attach(ctx context.Context, rt runtime.Runtime, sd *side, st *State) (string, error) {
	role := "soak-" + sd.name
	if o.Resume != nil {
		inst, err := o.Adopt(ctx, o.RunID, role)
		if err == nil {
			state, serr := inst.State(ctx)
			if serr == nil && state.Running {
				sd.inst, sd.port = inst, st.portOf(sd.name)
				return "", nil
			}
			_ = inst.Stop(context.WithoutCancel(ctx))
		} else if !errors.Is(err, runtime.ErrRemoved) {
			return "", fmt.Errorf("soak %s: %w", sd.name, err)
		}
		if sd.img == nil {
			return "", fmt.Errorf("soak %s: the container is gone and its image %s is not at hand to restart it", sd.name, st.Images[sd.name].Ref)
		}
		if err := o.start(ctx, rt, sd, role, st); err != nil {
			return "", err
		}
		sd.restart = true
		return fmt.Sprintf("%s: the container was gone; restarted it from %s (its memory and FD series start again)", upper(sd.name), st.Images[sd.name].Ref), nil
	}
	return "", o.start(ctx, rt, sd, role, st)
}

func (o *Options) start(ctx context.Context, rt runtime.Runtime, sd *side, role string, st *State) error {
	a, err := launch.Start(ctx, rt, o.Loader, sd.img, o.App, launch.Options{RunID: o.RunID, Role: role})
	if err != nil {
		return fmt.Errorf("soak %s: %w", sd.name, err)
	}
	sd.inst, sd.port = a.Instance, a.Port
	if _, err := a.WaitHealthy(ctx, o.App.Health); err != nil {
		return fmt.Errorf("soak %s: %w", sd.name, err)
	}
	st.Images[sd.name] = StateImage{Ref: sd.img.Ref, Digest: sd.img.Digest.String()}
	st.Containers[sd.name] = a.Instance.ID()
	if st.Ports == nil {
		st.Ports = map[string]int{}
	}
	st.Ports[sd.name] = a.Port
	return nil
}

// labelled is a runtime that adds labels to every container it starts.
type labelled struct {
	rt     runtime.Runtime
	labels map[string]string
}

func (l labelled) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	lb := maps.Clone(spec.Labels)
	if lb == nil {
		lb = map[string]string{}
	}
	maps.Copy(lb, l.labels)
	spec.Labels = lb
	return l.rt.Start(ctx, spec)
}

func snapshot(p Point, a *Analysis, r *Recording) Snapshot {
	s := Snapshot{RSS: p.RSS, FDs: float64(p.FDs), Growth: math.NaN(), Leak: a.Memory.Leak}
	if a.Memory.Trend != nil {
		s.Growth = a.Memory.Growth
	}
	if n := r.Health.Len(); n > 0 {
		ok := 0.0
		for _, v := range r.Health.V {
			ok += v
		}
		s.HealthRate = 100 * ok / float64(n)
	}
	return s
}

func loadMix(mix []config.PerfRequest) []load.Request {
	out := make([]load.Request, len(mix))
	for i, r := range mix {
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		out[i] = load.Request{Method: r.Method, Path: r.Path, Body: []byte(r.Body), Headers: h, Weight: r.Weight}
	}
	return out
}

func compilePatterns(ps []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, len(ps))
	for i, p := range ps {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("soak: error pattern %q: %w", p, err)
		}
		out[i] = re
	}
	return out, nil
}

func upper(name string) string {
	if name == "old" {
		return "OLD"
	}
	return "NEW"
}

// alive reports whether process pid exists (a zombie counts: its parent has not reaped it).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
