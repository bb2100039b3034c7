package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// instance is one container started by Runtime.
type instance struct {
	r           *Runtime
	id, name    string
	hostNetwork bool
	ports       map[int]bool

	mu      sync.Mutex
	removed bool           // Stop removed the container
	final   *runtime.State // the state Stop captured before removing; nil if it could not
	cg      *cgroupFiles   // found on the first Stats
}

var _ runtime.Instance = (*instance)(nil)

func (in *instance) ID() string { return in.id }

// gone reports whether Stop has removed the container.
func (in *instance) gone() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.removed
}

// fail turns an engine error about this container into the runtime's sentinels.
func (in *instance) fail(op string, err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s %s: %w", op, in.name, runtime.ErrRemoved)
	case cerrdefs.IsConflict(err), strings.Contains(err.Error(), "container state improper"):
		// Podman answers 500 "container state improper" where Docker answers 409 Conflict.
		return fmt.Errorf("%s %s: %w: %v", op, in.name, runtime.ErrNotRunning, err)
	}
	return fmt.Errorf("%s %s: %w", op, in.name, in.r.engineErr(err))
}

// inspect returns the engine's view of the container.
func (in *instance) inspect(ctx context.Context, op string) (container.InspectResponse, error) {
	if in.gone() {
		return container.InspectResponse{}, fmt.Errorf("%s %s: %w", op, in.name, runtime.ErrRemoved)
	}
	res, err := in.r.cli.ContainerInspect(ctx, in.id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, in.fail(op, err)
	}
	if res.Container.State == nil {
		return container.InspectResponse{}, fmt.Errorf("%s %s: engine reported no state", op, in.name)
	}
	return res.Container, nil
}

// running returns the inspection of a running container, runtime.ErrNotRunning otherwise.
func (in *instance) running(ctx context.Context, op string) (container.InspectResponse, error) {
	c, err := in.inspect(ctx, op)
	if err == nil && !c.State.Running {
		err = fmt.Errorf("%s %s: %w (%s)", op, in.name, runtime.ErrNotRunning, c.State.Status)
	}
	return c, err
}

// Endpoint implements runtime.Instance.
func (in *instance) Endpoint(ctx context.Context, port int) (string, error) {
	if !in.ports[port] {
		return "", fmt.Errorf("endpoint %s: port %d is not one of the spec's ports", in.name, port)
	}
	c, err := in.running(ctx, "endpoint")
	if err != nil {
		return "", err
	}
	if in.hostNetwork {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	p, _ := network.PortFrom(uint16(port), network.TCP)
	if c.NetworkSettings != nil {
		for _, b := range c.NetworkSettings.Ports[p] {
			if b.HostIP.IsLoopback() && b.HostPort != "" {
				return net.JoinHostPort(b.HostIP.String(), b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("endpoint %s: the engine published no loopback port for %d/tcp", in.name, port)
}

// Exec implements runtime.Instance.
func (in *instance) Exec(ctx context.Context, cmd []string) (runtime.ExecResult, error) {
	if in.gone() {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: %w", in.name, runtime.ErrRemoved)
	}
	cr, err := in.r.cli.ExecCreate(ctx, in.id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return runtime.ExecResult{}, in.fail("exec in", err)
	}
	att, err := in.r.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return runtime.ExecResult{}, in.fail("exec in", err)
	}
	stop := context.AfterFunc(ctx, att.Close) // the hijacked stream ignores ctx
	var out, errOut bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errOut, att.Reader)
	stop()
	att.Close()
	if ctx.Err() != nil {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: %w", in.name, ctx.Err())
	}
	if err != nil {
		return runtime.ExecResult{}, fmt.Errorf("exec in %s: read output: %w", in.name, err)
	}
	// The streams close when the process exits; the engine may record its exit code a
	// moment later.
	for wait := time.Millisecond; ; wait *= 2 {
		ei, err := in.r.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		if err != nil {
			return runtime.ExecResult{}, in.fail("exec in", err)
		}
		if !ei.Running {
			return runtime.ExecResult{Stdout: out.Bytes(), Stderr: errOut.Bytes(), ExitCode: ei.ExitCode}, nil
		}
		if wait > time.Second {
			return runtime.ExecResult{}, fmt.Errorf("exec in %s: output ended but the engine still reports the command running", in.name)
		}
		select {
		case <-ctx.Done():
			return runtime.ExecResult{}, fmt.Errorf("exec in %s: %w", in.name, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Logs implements runtime.Instance: stdout and stderr interleaved as the engine kept them.
func (in *instance) Logs(ctx context.Context, w io.Writer) error { return in.StreamLogs(ctx, w, w) }

// StreamLogs writes the container's stdout and stderr so far to separate writers: an optional
// capability beyond runtime.Instance, for callers that judge the two apart (structure tests).
func (in *instance) StreamLogs(ctx context.Context, stdout, stderr io.Writer) error {
	if in.gone() {
		return fmt.Errorf("logs of %s: %w", in.name, runtime.ErrRemoved)
	}
	rc, err := in.r.cli.ContainerLogs(ctx, in.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return in.fail("logs of", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil {
		return fmt.Errorf("logs of %s: %w", in.name, err)
	}
	return nil
}

// State implements runtime.Instance.
func (in *instance) State(ctx context.Context) (runtime.State, error) {
	in.mu.Lock()
	removed, final := in.removed, in.final
	in.mu.Unlock()
	if removed {
		if final == nil {
			return runtime.State{}, fmt.Errorf("state of %s: %w before its state was read", in.name, runtime.ErrRemoved)
		}
		return *final, nil
	}
	c, err := in.inspect(ctx, "state of")
	if err != nil {
		return runtime.State{}, err
	}
	return stateOf(c.State), nil
}

// stateOf translates the engine's state.
func stateOf(s *container.State) runtime.State {
	st := runtime.State{
		Running:    s.Running,
		ExitCode:   s.ExitCode,
		OOMKilled:  s.OOMKilled,
		Signal:     runtime.SignalFromExitCode(s.ExitCode),
		StartedAt:  engineTime(s.StartedAt),
		FinishedAt: engineTime(s.FinishedAt),
	}
	if s.Running {
		st.Signal = 0
	}
	if s.Health != nil && s.Health.Status != container.NoHealthcheck {
		st.Health = runtime.Health(s.Health.Status)
	}
	return st
}

// engineTime parses the engine's RFC 3339 times; its "0001-01-01T00:00:00Z" is the zero time.
func engineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// Stats implements runtime.Instance.
func (in *instance) Stats(ctx context.Context) (runtime.Stats, error) {
	in.mu.Lock()
	cg := in.cg
	in.mu.Unlock()
	if cg == nil {
		pid, err := in.PID(ctx)
		if err != nil {
			return runtime.Stats{}, err
		}
		procCgroup, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			return runtime.Stats{}, fmt.Errorf("stats of %s: %w: %v", in.name, runtime.ErrStatsUnavailable, err)
		}
		mountinfo, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return runtime.Stats{}, fmt.Errorf("stats of %s: %w: %v", in.name, runtime.ErrStatsUnavailable, err)
		}
		found, err := findCgroup(procCgroup, mountinfo, in.id)
		if err != nil {
			return runtime.Stats{}, fmt.Errorf("stats of %s: %w", in.name, err)
		}
		cg = &found
		in.mu.Lock()
		in.cg = cg
		in.mu.Unlock()
	}
	if in.gone() {
		return runtime.Stats{}, fmt.Errorf("stats of %s: %w", in.name, runtime.ErrRemoved)
	}
	st, err := cg.read()
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("stats of %s: %w", in.name, err)
	}
	return st, nil
}

// PID implements runtime.Instance.
func (in *instance) PID(ctx context.Context) (int, error) {
	c, err := in.running(ctx, "pid of")
	if err != nil {
		return 0, err
	}
	if c.State.Pid <= 0 {
		return 0, fmt.Errorf("pid of %s: %w", in.name, runtime.ErrNotRunning)
	}
	return c.State.Pid, nil
}

// Stop implements runtime.Instance.
func (in *instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.removed {
		return nil
	}
	grace := int(math.Ceil(in.r.grace.Seconds()))
	if ctx.Err() != nil {
		grace = 0 // interrupted: no time for a graceful stop
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.r.grace+cleanupTimeout)
	defer cancel()
	cli := in.r.cli
	if _, err := cli.ContainerStop(ctx, in.id, client.ContainerStopOptions{Timeout: &grace}); err != nil {
		if cerrdefs.IsNotFound(err) {
			in.removed = true
			in.r.track.Removed(in.name)
			return nil
		}
		// Keep going: the forced removal below kills it anyway.
		in.r.log.Warn("stop container", "container", in.name, "err", err)
	}
	if res, err := cli.ContainerInspect(ctx, in.id, client.ContainerInspectOptions{}); err == nil && res.Container.State != nil {
		st := stateOf(res.Container.State)
		in.final = &st
	}
	if _, err := cli.ContainerRemove(ctx, in.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", in.name, in.r.engineErr(err))
	}
	in.removed = true
	in.r.track.Removed(in.name)
	in.r.log.Debug("container removed", "container", in.name)
	return nil
}
