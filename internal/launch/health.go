package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Defaults of config.Health.
const (
	DefaultHealthTimeout = 30 * time.Second
	DefaultHealthPeriod  = 250 * time.Millisecond
)

// runningSettle is how long a container must have run to be healthy when nothing else tells:
// a process that exits at once is often still "running" when first looked at.
const runningSettle = time.Second

// probeTimeout bounds one probe, so a hung connection cannot use up the whole wait.
const probeTimeout = 5 * time.Second

// settle is how long a TCP probe waits after connecting for the peer to hang up. A port
// published through the engine's userland proxy accepts connections even when nothing
// listens behind it, and closes them at once; an app that listens keeps them open.
const settle = 150 * time.Millisecond

// Errors of WaitHealthy the callers branch on (always wrapped; errors.Is). An exit is an
// *ExitError instead.
var (
	// ErrNotHealthy: the probe did not pass within the timeout; the message carries its
	// last failure.
	ErrNotHealthy = errors.New("not healthy")
	// ErrNoPort: an HTTP or TCP probe needs a port, and neither the policy nor the image
	// names one.
	ErrNoPort = errors.New("no port to probe: the policy sets no app.port and the image exposes no TCP port")
	// ErrNoHealthcheck: the policy asks for the image's own HEALTHCHECK, and it has none.
	ErrNoHealthcheck = errors.New("the image declares no HEALTHCHECK")
)

// ExitError is the container exiting before it was healthy.
type ExitError struct {
	State runtime.State
}

func (e *ExitError) Error() string { return "the container " + DescribeExit(e.State) }

// DescribeExit says how a container's main process ended: "exited with code 3", "was killed
// by signal SIGSEGV (exit code 139)", "was killed for want of memory (OOM, exit code 137)".
func DescribeExit(st runtime.State) string {
	switch {
	case st.Running:
		return "is running"
	case st.OOMKilled:
		return fmt.Sprintf("was killed for want of memory (OOM, exit code %d)", st.ExitCode)
	case st.Signal != 0:
		return fmt.Sprintf("was killed by signal %s (exit code %d)", signalName(st.Signal), st.ExitCode)
	}
	return fmt.Sprintf("exited with code %d", st.ExitCode)
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP",
		syscall.SIGILL: "SIGILL", syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
		syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("%d (%s)", int(s), s)
}

// probe is one health test; it returns when it passed.
type probe struct {
	desc string
	run  func(ctx context.Context) (time.Time, error)
	// runningOnly marks the fallback that only sees the process still running.
	runningOnly bool
}

// HealthIsRunningOnly reports whether WaitHealthy(h) can only tell that the container keeps
// running: h sets no probe, and the image has no HEALTHCHECK and no known port. Then
// "healthy" says nothing about whether the app serves; callers should say so.
func (a *App) HealthIsRunningOnly(h config.Health) bool {
	ps, err := a.probes(h)
	return err == nil && len(ps) == 1 && ps[0].runningOnly
}

// DescribeHealth says what WaitHealthy(h) probes, for reports ("GET /healthz → 200 on
// 127.0.0.1:49153").
func (a *App) DescribeHealth(h config.Health) string {
	ps, err := a.probes(h)
	if err != nil {
		return err.Error()
	}
	return describe(ps)
}

// WaitHealthy waits until the app passes its health probe and returns how long after
// StartedAt it did. The probe is what h says: an HTTP GET of h.HTTP answering h.Status
// (default 200; redirects are not followed), a TCP connect to the port that the peer keeps
// open, the command h.Exec exiting 0 in the container, or the image's own HEALTHCHECK;
// several set must all pass in the same round. With none set: the image's HEALTHCHECK when
// it has one, else a TCP connect when a port is known, else the container running for a
// second.
//
// The image's HEALTHCHECK passes when the engine reports it healthy or when its command,
// run by WaitHealthy itself every h.Interval, exits 0: engines run the first check only a
// whole --interval (30 s by default) after the start.
//
// It fails at once with an *ExitError when the container exits, with ErrNotHealthy after
// h.Timeout (default 30 s), and with ctx's error when ctx ends first.
func (a *App) WaitHealthy(ctx context.Context, h config.Health) (time.Duration, error) {
	timeout, period := h.Timeout, h.Interval
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	if period <= 0 {
		period = DefaultHealthPeriod
	}
	probes, err := a.probes(h)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		st, err := a.Instance.State(wctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("wait for health: %w", ctx.Err())
			}
			if wctx.Err() == nil {
				return 0, fmt.Errorf("wait for health: %w", err)
			}
		} else if !st.Running {
			return 0, &ExitError{State: st}
		}
		if wctx.Err() == nil {
			at, err := runProbes(wctx, probes)
			if err == nil {
				return at.Sub(a.StartedAt), nil
			}
			// A probe the timeout cut short says less than the failure before it.
			if last == nil || wctx.Err() == nil {
				last = err
			}
		}
		select {
		case <-wctx.Done():
		case <-time.After(period):
			continue
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("wait for health: %w", ctx.Err())
		}
		// Timed out: an exit in the meantime is the better answer.
		st, err = a.Instance.State(context.WithoutCancel(ctx))
		if err == nil && !st.Running {
			return 0, &ExitError{State: st}
		}
		if last == nil {
			last = errors.New("no probe finished")
		}
		return 0, fmt.Errorf("%w within %s: %s: %v", ErrNotHealthy, timeout, describe(probes), last)
	}
}

// describe joins the probes' descriptions.
func describe(ps []probe) string {
	descs := make([]string, len(ps))
	for i, p := range ps {
		descs[i] = p.desc
	}
	return strings.Join(descs, " and ")
}

// runProbes runs every probe once, each bounded by probeTimeout, and returns when the last
// passed, or the first failure.
func runProbes(ctx context.Context, probes []probe) (time.Time, error) {
	var last time.Time
	for _, p := range probes {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		at, err := p.run(pctx)
		cancel()
		if err != nil {
			return time.Time{}, err
		}
		if at.After(last) {
			last = at
		}
	}
	return last, nil
}

// probes builds the probes h asks for.
func (a *App) probes(h config.Health) ([]probe, error) {
	var ps []probe
	needPort := func() error {
		if a.Port == 0 {
			return ErrNoPort
		}
		return nil
	}
	if h.HTTP != "" {
		if err := needPort(); err != nil {
			return nil, err
		}
		want := h.Status
		if want == 0 {
			want = http.StatusOK
		}
		ps = append(ps, probe{
			desc: fmt.Sprintf("GET %s → %d on %s", h.HTTP, want, a.endpointName()),
			run: func(ctx context.Context) (time.Time, error) {
				return probeHTTP(ctx, a.Endpoint, h.HTTP, want)
			},
		})
	}
	if h.TCP {
		if err := needPort(); err != nil {
			return nil, err
		}
		ps = append(ps, a.tcpProbe())
	}
	if len(h.Exec) > 0 {
		ps = append(ps, a.execProbe(h.Exec, 0))
	}
	if h.Image {
		if !hasHealthcheck(a.healthcheck) {
			return nil, ErrNoHealthcheck
		}
		ps = append(ps, a.imageProbe())
	}
	if len(ps) > 0 {
		return ps, nil
	}
	switch {
	case hasHealthcheck(a.healthcheck):
		return []probe{a.imageProbe()}, nil
	case a.Port != 0:
		return []probe{a.tcpProbe()}, nil
	}
	return []probe{{desc: fmt.Sprintf("the container running for %s", runningSettle), run: a.runningFor, runningOnly: true}}, nil
}

// runningFor passes when the container's process has been running for runningSettle, by the
// engine's clock of when it started (ours when the engine does not say).
func (a *App) runningFor(ctx context.Context) (time.Time, error) {
	st, err := a.Instance.State(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if !st.Running {
		return time.Time{}, errors.New("not running")
	}
	began := st.StartedAt
	if began.IsZero() {
		began = a.StartedAt
	}
	if up := time.Since(began); up < runningSettle {
		return time.Time{}, fmt.Errorf("running for %s only", up.Round(time.Millisecond))
	}
	return time.Now(), nil
}

func (a *App) endpointName() string {
	if a.Endpoint == "" {
		return fmt.Sprintf("port %d", a.Port)
	}
	return a.Endpoint
}

func (a *App) tcpProbe() probe {
	return probe{
		desc: "TCP connect to " + a.endpointName(),
		run:  func(ctx context.Context) (time.Time, error) { return probeTCP(ctx, a.Endpoint) },
	}
}

// execProbe runs cmd in the container; timeout 0 means probeTimeout.
func (a *App) execProbe(cmd []string, timeout time.Duration) probe {
	return probe{
		desc: fmt.Sprintf("exec %q exits 0", cmd),
		run: func(ctx context.Context) (time.Time, error) {
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			res, err := a.Instance.Exec(ctx, cmd)
			if err != nil {
				return time.Time{}, fmt.Errorf("exec %q: %w", cmd, err)
			}
			if res.ExitCode != 0 {
				msg := LastLines(append(res.Stdout, res.Stderr...), 1)
				return time.Time{}, fmt.Errorf("exec %q: exit code %d %q", cmd, res.ExitCode, msg)
			}
			return time.Now(), nil
		},
	}
}

// imageProbe passes when the engine reports the image's HEALTHCHECK healthy, or when its
// command, run here, exits 0.
func (a *App) imageProbe() probe {
	cmd := healthcheckCmd(a.healthcheck)
	run := a.execProbe(cmd, a.healthcheck.Timeout).run
	return probe{
		desc: fmt.Sprintf("the image's HEALTHCHECK %q", cmd),
		run: func(ctx context.Context) (time.Time, error) {
			if st, err := a.Instance.State(ctx); err == nil && st.Health == runtime.HealthHealthy {
				return time.Now(), nil
			}
			return run(ctx)
		},
	}
}

// hasHealthcheck reports whether hc is a HEALTHCHECK with a command (not NONE).
func hasHealthcheck(hc *v1.HealthConfig) bool { return len(healthcheckCmd(hc)) > 0 }

// healthcheckCmd turns a HEALTHCHECK test into the command it runs.
func healthcheckCmd(hc *v1.HealthConfig) []string {
	if hc == nil || len(hc.Test) < 2 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		return hc.Test[1:]
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	}
	return nil
}

// probeHTTP GETs path on endpoint and passes when it answers status want.
func probeHTTP(ctx context.Context, endpoint, path string, want int) (time.Time, error) {
	if endpoint == "" {
		return time.Time{}, errors.New("the port is not published")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+path, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("GET %s: %w", path, unwrapURL(err))
	}
	at := time.Now()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != want {
		return time.Time{}, fmt.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, want)
	}
	return at, nil
}

// probeClient makes each probe a new connection and does not follow redirects.
var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// unwrapURL drops the *url.Error prefix, which repeats the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var errHungUp = errors.New("TCP connect: accepted, then closed at once (nothing listens behind the published port)")

// probeTCP connects to endpoint and passes when the peer keeps the connection open for
// settle (or sends something): a proxy with nothing behind it hangs up at once.
func probeTCP(ctx context.Context, endpoint string) (time.Time, error) {
	if endpoint == "" {
		return time.Time{}, errors.New("the port is not published")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", endpoint)
	if errors.Is(err, syscall.ECONNRESET) {
		return time.Time{}, errHungUp
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("TCP connect: %w", err)
	}
	defer c.Close()
	at := time.Now()
	_ = c.SetReadDeadline(at.Add(settle))
	var b [1]byte
	_, err = c.Read(b[:])
	var ne net.Error
	switch {
	case err == nil, errors.As(err, &ne) && ne.Timeout():
		return at, nil
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return time.Time{}, errHungUp
	}
	return time.Time{}, fmt.Errorf("TCP connect: %w", err)
}
