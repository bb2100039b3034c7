package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// ErrSidecar is wrapped by the dependencies check's error when a sidecar did not start, get
// ready or keep running on a first deployment: with no OLD to compare with, nothing tells
// whether the app would have reached it.
var ErrSidecar = errors.New("a sidecar dependency is not serving")

// sidecarPoll is the time between two connection attempts while a sidecar gets ready.
const sidecarPoll = 100 * time.Millisecond

// sidecar is the container of one dependency, started once per session.
type sidecar struct {
	dep  config.Dependency // defaults applied
	inst runtime.Instance  // nil when it did not start
	// fault is why the sidecar did not start, get ready or keep running; nil while it serves.
	fault error
}

// name names the sidecar in messages: the dependency's name, else its image.
func (sc *sidecar) name() string {
	if sc.dep.Name != "" {
		return fmt.Sprintf("sidecar %s (%s)", sc.dep.Name, sc.dep.Sidecar.Image)
	}
	return "sidecar " + sc.dep.Sidecar.Image
}

// startSidecars starts the sidecar of each dependency that has one, one after the other, and
// waits for each to accept connections. A sidecar that fails is recorded on it (and stopped);
// only the end of ctx is an error. It runs once per session; s.mu is held.
func (s *Session) startSidecars(ctx context.Context) error {
	if s.sidecarsStarted {
		return nil
	}
	s.sidecarsStarted = true
	for i, d := range s.deps {
		if !d.Sidecar.IsSet() {
			continue
		}
		sc := &sidecar{dep: d}
		s.sidecars[i] = sc
		err := s.startSidecar(ctx, sc, fmt.Sprintf("smoke-sidecar-%d", i))
		if ctx.Err() != nil {
			return fmt.Errorf("start %s: %w", sc.name(), ctx.Err())
		}
		if err != nil {
			sc.fault = fmt.Errorf("%s: %w", sc.name(), err)
			s.stopSidecar(ctx, sc)
		}
	}
	return nil
}

// startSidecar starts sc's container on the host's network and waits until its port accepts
// a TCP connection.
func (s *Session) startSidecar(ctx context.Context, sc *sidecar, role string) error {
	if !s.app.HostNetwork {
		return errors.New("app.hostNetwork is false: the app could not reach a sidecar on 127.0.0.1")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sc.dep.Sidecar.Port))
	// Something else already listening there would pass for the sidecar.
	if c, err := dialWithin(ctx, addr, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s already accepts connections before the sidecar starts: another process of this host holds the port", addr)
	}
	inst, err := s.rt.Start(ctx, runtime.Spec{
		Image: sc.dep.Sidecar.Image, RunID: s.runID, Role: role,
		Cmd: sc.dep.Sidecar.Command, Env: sc.dep.Sidecar.Env, HostNetwork: true,
	})
	switch {
	case errors.Is(err, runtime.ErrImageNotFound):
		return fmt.Errorf("%w: plimsoll never pulls a sidecar's image: pull or load it first", runtime.ErrImageNotFound)
	case err != nil:
		return fmt.Errorf("start: %w", err)
	}
	sc.inst = inst
	s.live[inst] = true
	return waitListening(ctx, inst, addr, sc.dep.Sidecar.Ready)
}

// waitListening waits until addr accepts a TCP connection, failing fast when the container
// exits, and at most ready.
func waitListening(ctx context.Context, inst runtime.Instance, addr string, ready time.Duration) error {
	deadline := time.Now().Add(ready)
	for {
		c, err := dialWithin(ctx, addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := exited(ctx, inst, "before "+addr+" accepted a connection"); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s accepted no connection within %s (last attempt: %v)", addr, ready, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sidecarPoll):
		}
	}
}

// exited returns an error saying how the container exited, with its last output, or nil
// while it runs.
func exited(ctx context.Context, inst runtime.Instance, when string) error {
	st, err := inst.State(ctx)
	if err != nil {
		return fmt.Errorf("read its state: %w", err)
	}
	if st.Running {
		return nil
	}
	var out bytes.Buffer
	last := ""
	if inst.Logs(ctx, &out) == nil {
		if l := launch.LastLines(out.Bytes(), 1); len(l) == 1 {
			last = fmt.Sprintf(" (last output: %q)", l[0])
		}
	}
	return fmt.Errorf("%s %s%s", launch.DescribeExit(st), when, last)
}

// checkSidecars records the sidecars that stopped running since they got ready. s.mu is held.
func (s *Session) checkSidecars(ctx context.Context) {
	for _, sc := range s.sidecars {
		if sc.fault != nil {
			continue
		}
		if err := exited(ctx, sc.inst, "while the smoke test ran"); err != nil {
			sc.fault = fmt.Errorf("%s: %w", sc.name(), err)
		}
	}
}

// stopSidecar stops the container of a sidecar that failed; Close retries a failed stop.
func (s *Session) stopSidecar(ctx context.Context, sc *sidecar) {
	if sc.inst == nil {
		return
	}
	if err := sc.inst.Stop(context.WithoutCancel(ctx)); err == nil {
		delete(s.live, sc.inst)
	}
}

// dialWithin dials address from here, for at most d.
func dialWithin(ctx context.Context, address string, d time.Duration) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return dialHere(dctx, address)
}

// sidecarFaults returns the fault of each dependency's sidecar, by dependency index.
func (s *Session) sidecarFaults() map[int]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]error{}
	for i, sc := range s.sidecars {
		if sc.fault != nil {
			out[i] = sc.fault
		}
	}
	return out
}
