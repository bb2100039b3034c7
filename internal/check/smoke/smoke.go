// Package smoke is Layer 2 of the gate: it starts OLD and NEW the way the policy says
// (config.App) and tells whether each starts and stays up, becomes healthy in time, writes no
// fatal line to its logs, holds the binaries the policy names, answers the policy's requests
// as expected, and reaches the services it depends on. The same probes run on both images; a
// probe that passes on OLD and fails on NEW is a regression (NO-GO), one that fails on both is
// pre-existing (CAUTION), and with no OLD (a first deployment) a failure is NO-GO. One request
// that times out, with nothing else wrong, is CAUTION.
//
// Each image is started once per run, in one container, one image after the other (an app on
// the host's network could not listen twice on its port): the layer's first check starts OLD,
// observes everything, stops it, then does the same for NEW; the other checks read those
// observations. Session.Close stops whatever an interrupted observation left running.
//
// Dependencies are dialled from the app's network namespace: with app.hostNetwork that is the
// host's, so they are dialled from here; on the engine's bridge network plimsoll enters the app
// container's namespace (internal/netns), which needs root — without it the dependency check
// is skipped, saying so.
//
// A dependency may be a sidecar the policy describes: a container of an image the engine
// holds (it is started by reference, never pulled), run on the host's network — so the app
// must be too — once per session before the first app starts, labelled with the run like the
// app's containers, and stopped by Close. It must accept a TCP connection on 127.0.0.1:port
// within its ready time. A sidecar that does not start, get ready or keep running is no fault
// of either image: that dependency fails on OLD and NEW alike, which the comparison calls
// pre-existing (CAUTION); on a first deployment, with nothing to compare with, the check
// cannot tell and returns an error wrapping ErrSidecar (ERROR).
package smoke

import (
	"context"
	"errors"
	"fmt"
	"github.com/plimsoll/plimsoll/internal/netns"
	"net"
	"regexp"
	"sync"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Bounds of the probes that the policy does not set.
const (
	// RequestTimeout bounds each of the policy's requests, answer and body included.
	RequestTimeout = 10 * time.Second
	// DialTimeout bounds each dependency's TCP connect.
	DialTimeout = 5 * time.Second
	// DefaultStayUp is how long the app must keep running once healthy when the policy does
	// not say (config.Default says the same).
	DefaultStayUp = 2 * time.Second
)

// Session is one run's Layer 2: what its checks share, and what Close releases.
type Session struct {
	rt             runtime.Runtime
	ld             launch.Loader
	app            config.App
	smoke          config.Smoke
	runID          string
	patterns       []*regexp.Regexp
	patternErr     error
	requestTimeout time.Duration
	deps           []config.Dependency // the policy's, defaults applied

	mu              sync.Mutex
	obs             map[*image.Image]*observation
	live            map[runtime.Instance]bool // started and not yet stopped
	sidecarsStarted bool
	sidecars        map[int]*sidecar // by dependency index
}

// NewSession returns Layer 2's checks for a run, in the order they must run — start, health,
// logs, binaries, requests, dependencies — and the session they share. The caller must Close
// the session when the layer is done, on every path.
func NewSession(rt runtime.Runtime, ld launch.Loader, app config.App, s config.Smoke, runID string) (*Session, []check.Check) {
	ss := &Session{rt: rt, ld: ld, app: app, smoke: s, runID: runID, requestTimeout: RequestTimeout,
		obs: map[*image.Image]*observation{}, live: map[runtime.Instance]bool{}, sidecars: map[int]*sidecar{}}
	for _, d := range s.Dependencies {
		ss.deps = append(ss.deps, d.WithDefaults())
	}
	if ss.smoke.StayUp <= 0 {
		ss.smoke.StayUp = DefaultStayUp
	}
	for _, p := range s.LogPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			ss.patternErr = errors.Join(ss.patternErr, fmt.Errorf("smoke.logPatterns: %q: %w", p, err))
			continue
		}
		ss.patterns = append(ss.patterns, re)
	}
	return ss, []check.Check{
		startCheck{ss}, healthCheck{ss}, logsCheck{ss}, binariesCheck{ss}, requestsCheck{ss}, dependenciesCheck{ss},
	}
}

// Close stops every container of the session that is still running: the sidecars, and an app
// whose observation was interrupted or whose stop failed. It is safe to call more than once.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for inst := range s.live {
		if err := inst.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("smoke: stop container %.12s: %w", inst.ID(), err))
			continue
		}
		delete(s.live, inst)
	}
	return errors.Join(errs...)
}

// observation is everything Layer 2 saw of one image.
type observation struct {
	// err means the image could not be tried (the engine failed, the run was cancelled).
	err error
	// startErr is the runtime failing to start the process (runtime.ErrStartFailed).
	startErr error
	// exit is the container's state when it exited before the observation ended; exitWhen
	// says when ("before it was healthy").
	exit     *runtime.State
	exitWhen string
	// healthErr is why the app was not healthy (nil when it was, after healthy).
	healthErr   error
	healthy     time.Duration
	healthProbe string
	// runningOnly is true when no probe could tell more than that the container kept running.
	runningOnly bool
	endpoint    string
	// logs is the container's output until the observation ended.
	logs    []byte
	logsErr error
	// requests and deps are the outcomes of the policy's requests and dependencies.
	requests, deps []outcome
}

// running reports whether the app was running through the observation.
func (o *observation) running() bool { return o.startErr == nil && o.exit == nil }

// lastWords quotes the container's output for a message about an exit: its first fatal
// line, else its last line.
func (o *observation) lastWords(patterns []*regexp.Regexp) string {
	if hits := launch.ScanLogs(o.logs, patterns); len(hits) > 0 {
		return fmt.Sprintf(" (output: %q)", hits[0].Text)
	}
	if l := launch.LastLines(o.logs, 1); len(l) == 1 {
		return fmt.Sprintf(" (last output: %q)", l[0])
	}
	return ""
}

// observe returns the observations of env's images, making them on first use: the sidecars
// first, then OLD, then NEW. The error is set when an image could not be tried.
func (s *Session) observe(ctx context.Context, env *check.Env) (old, new *observation, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startSidecars(ctx); err != nil {
		return nil, nil, err
	}
	get := func(img *image.Image, role string) *observation {
		if o, ok := s.obs[img]; ok {
			return o
		}
		o := s.observeOne(ctx, env, img, role)
		s.obs[img] = o
		return o
	}
	if env.Old != nil {
		if old = get(env.Old, "smoke-old"); old.err != nil {
			return nil, nil, fmt.Errorf("OLD: %w", old.err)
		}
	}
	if new = get(env.New, "smoke-new"); new.err != nil {
		return nil, nil, fmt.Errorf("NEW: %w", new.err)
	}
	return old, new, nil
}

// observeOne starts img, waits for health, watches it stay up, makes the requests, dials the
// dependencies, reads the logs, and stops it.
func (s *Session) observeOne(ctx context.Context, env *check.Env, img *image.Image, role string) *observation {
	o := &observation{}
	a, err := launch.Start(ctx, s.rt, s.ld, img, s.app, launch.Options{RunID: s.runID, Role: role})
	if err != nil {
		if errors.Is(err, runtime.ErrStartFailed) {
			o.startErr = err
		} else {
			o.err = err
		}
		return o
	}
	s.live[a.Instance] = true
	defer func() {
		if err := a.Instance.Stop(context.WithoutCancel(ctx)); err != nil {
			env.Log.Warn("smoke: stop container; Close retries", "container", a.Instance.ID(), "err", err)
			return
		}
		delete(s.live, a.Instance)
	}()
	o.endpoint, o.healthProbe = a.Endpoint, a.DescribeHealth(s.app.Health)
	o.runningOnly = a.HealthIsRunningOnly(s.app.Health)
	o.healthy, o.healthErr = a.WaitHealthy(ctx, s.app.Health)
	var ee *launch.ExitError
	switch {
	case errors.As(o.healthErr, &ee):
		o.exit, o.exitWhen = &ee.State, "before it was healthy"
	case ctx.Err() != nil:
		o.err = o.healthErr
		return o
	case o.healthErr == nil:
		if err := stayUp(ctx, a.Instance, s.smoke.StayUp, o); err != nil {
			o.err = err
			return o
		}
	case errors.Is(o.healthErr, launch.ErrNotHealthy), errors.Is(o.healthErr, launch.ErrNoPort), errors.Is(o.healthErr, launch.ErrNoHealthcheck):
		// Not healthy, still running: the requests may still say something.
	default:
		o.err = o.healthErr
		return o
	}
	if o.running() {
		if o.requests, err = s.doRequests(ctx, o.endpoint); err != nil {
			o.err = err
			return o
		}
		if len(s.deps) > 0 {
			dial := dialFunc(dialHere)
			if !s.app.HostNetwork {
				pid, err := a.Instance.PID(ctx)
				if err != nil {
					o.err = fmt.Errorf("the app's process, to dial from its network: %w", err)
					return o
				}
				dial = func(ctx context.Context, address string) (net.Conn, error) { return netns.Dial(ctx, pid, address) }
			}
			if o.deps = dialAll(ctx, s.deps, dial); ctx.Err() != nil {
				o.err = fmt.Errorf("dial the dependencies: %w", ctx.Err())
				return o
			}
			s.checkSidecars(ctx)
		}
		// The requests may have killed it.
		if st, err := a.Instance.State(ctx); err == nil && !st.Running {
			o.exit, o.exitWhen = &st, "while serving the smoke requests"
		}
	}
	o.logs, o.logsErr = a.Logs(ctx)
	return o
}

// stayUp watches the healthy app for d and records an exit.
func stayUp(ctx context.Context, inst runtime.Instance, d time.Duration, o *observation) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("watch the app stay up: %w", ctx.Err())
	case <-t.C:
	}
	st, err := inst.State(ctx)
	if err != nil {
		return fmt.Errorf("watch the app stay up: %w", err)
	}
	if !st.Running {
		o.exit, o.exitWhen = &st, fmt.Sprintf("within %s of being healthy", d)
	}
	return nil
}
