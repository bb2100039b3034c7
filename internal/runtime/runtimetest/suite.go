// Package runtimetest is the conformance suite every runtime.Runtime implementation must pass,
// and the test image it runs (AppImage). An implementation's test builds AppImage, makes it
// known to its engine, and calls Run:
//
//	func TestConformance(t *testing.T) {
//		ref := load(t, runtimetest.AppImage(t))
//		runtimetest.Run(t, newRuntime, runtimetest.Images{App: ref}, labelsFromEngine)
//	}
//
// The suite needs the engine to run on this host (it reads /proc for Instance.PID).
//
// Options name the documented ways a runtime differs from Docker's (HostNetworkOnly,
// NoHealthcheck, NoPID); each makes the suite check the documented behaviour instead.
package runtimetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Images are the references of the suite's images as the runtime under test knows them.
type Images struct {
	// App is AppImage.
	App string
	// Missing is an image the engine cannot get (default "plimsoll.invalid/no-such-image:0",
	// for engines that never pull; a runtime that pulls needs one on a loopback registry).
	Missing string
}

// Option states a documented difference of the runtime under test.
type Option func(*suite)

// HostNetworkOnly runs every instance on the host network, its server on 127.0.0.1 at a free
// port: for a node without a pod network (the tests' Kubernetes node).
func HostNetworkOnly() Option { return func(s *suite) { s.hostNetOnly = true } }

// NoHealthcheck says the runtime does not run the image's HEALTHCHECK: State.Health stays
// HealthNone (Kubernetes ignores Docker's HEALTHCHECK).
func NoHealthcheck() Option { return func(s *suite) { s.noHealth = true } }

// NoPID says the runtime cannot give a host PID: PID of a running instance is
// runtime.ErrStatsUnavailable (Kubernetes' API has no host PID).
func NoPID() Option { return func(s *suite) { s.noPID = true } }

// LabelsFunc reads the labels the engine holds for the container with id. The suite checks
// what the runtime did, so it asks the engine itself rather than the runtime.
type LabelsFunc func(ctx context.Context, id string) (map[string]string, error)

// wait bounds every wait of the suite (a server to answer, a process to exit, health).
const wait = 30 * time.Second

// Run runs the conformance suite. newRuntime is called once per subtest; labels reads a
// container's labels from the engine. Every container the suite starts is stopped by the
// subtest that started it; a runtime's own test should still check that none is left.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, images Images, labels LabelsFunc, opts ...Option) {
	runID := "rtt-" + randomHex(4)
	s := &suite{newRuntime: newRuntime, images: images, labels: labels, runID: runID}
	if s.images.Missing == "" {
		s.images.Missing = "plimsoll.invalid/no-such-image:0"
	}
	for _, o := range opts {
		o(s)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Lifecycle", s.lifecycle},
		{"ExitsAtOnce", s.exitsAtOnce},
		{"KilledAfterGrace", s.killedAfterGrace},
		{"OutOfMemory", s.outOfMemory},
		{"ReadOnlyRoot", s.readOnlyRoot},
		{"User", s.user},
		{"HostNetwork", s.hostNetwork},
		{"ImageNotFound", s.imageNotFound},
		{"StartFailure", s.startFailure},
		{"InvalidSpec", s.invalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	newRuntime func(t *testing.T) runtime.Runtime
	images     Images
	labels     LabelsFunc
	runID      string

	hostNetOnly, noHealth, noPID bool
}

// spec returns the base spec of role and the port its server listens on.
func (s *suite) spec(role string) runtime.Spec {
	spec, _ := s.specPort(role)
	return spec
}

// specPort returns the base spec of role and the port its server listens on: AppPort, or a
// free port on 127.0.0.1 of the host network under HostNetworkOnly.
func (s *suite) specPort(role string) (runtime.Spec, int) {
	spec := runtime.Spec{Image: s.images.App, RunID: s.runID, Role: role}
	if !s.hostNetOnly {
		return spec, AppPort
	}
	port := freePortNoT()
	spec.HostNetwork = true
	spec.Env = []string{"PORT=" + strconv.Itoa(port), "LISTEN_ADDR=127.0.0.1"}
	return spec, port
}

// start starts spec and stops the instance when the test ends.
func (s *suite) start(t *testing.T, spec runtime.Spec) runtime.Instance {
	t.Helper()
	rt := s.newRuntime(t)
	inst, err := rt.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.Role, err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(context.Background()); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return inst
}

// sleeper is a spec whose process only sleeps (busybox sleep as PID 1 ignores SIGTERM).
func (s *suite) sleeper(role string) runtime.Spec {
	spec := s.spec(role)
	spec.Entrypoint, spec.Cmd = []string{"/bin/sleep"}, []string{"600"}
	return spec
}

func (s *suite) lifecycle(t *testing.T) {
	ctx := t.Context()
	const memory = 128 << 20
	spec, port := s.specPort("lifecycle")
	spec.Ports = []int{port}
	spec.Env = append(spec.Env, "PLIMSOLL_TEST=hello world")
	spec.Memory, spec.CPUs, spec.CPUShares = memory, 0.5, 512
	spec.Labels = map[string]string{"com.example.suite": "runtimetest"}
	inst := s.start(t, spec)
	if inst.ID() == "" {
		t.Error("ID() is empty")
	}

	// Endpoint: loopback, and the server answers there.
	addr, err := inst.Endpoint(ctx, port)
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	mustLoopback(t, addr)
	if body := httpGet(t, addr, "/"); body != "plimsoll-testapp\n" {
		t.Errorf("GET / = %q, want %q", body, "plimsoll-testapp\n")
	}
	if _, err := inst.Endpoint(ctx, port+1); err == nil {
		t.Error("Endpoint of a port not in the spec: no error")
	}

	// Exec: stdout, stderr and exit code kept apart; env applied; root by default; the root
	// filesystem writable by default.
	res := execIn(t, inst, "sh", "-c", "echo out; echo err >&2; exit 7")
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 7 {
		t.Errorf("Exec = stdout %q stderr %q exit %d, want \"out\\n\" \"err\\n\" 7", res.Stdout, res.Stderr, res.ExitCode)
	}
	if res := execIn(t, inst, "sh", "-c", `echo "$PLIMSOLL_TEST"`); string(res.Stdout) != "hello world\n" {
		t.Errorf("env PLIMSOLL_TEST = %q, want %q", res.Stdout, "hello world\n")
	}
	if res := execIn(t, inst, "id", "-u"); string(res.Stdout) != "0\n" {
		t.Errorf("id -u = %q, want the image's user 0", res.Stdout)
	}
	if res := execIn(t, inst, "touch", "/probe"); res.ExitCode != 0 {
		t.Errorf("touch /probe on a writable root: exit %d: %s", res.ExitCode, res.Stderr)
	}
	if res := execIn(t, inst, "/no/such/command"); res.ExitCode == 0 {
		t.Error("Exec of a missing command: exit 0")
	}

	// Logs: both streams of the startup.
	var logs bytes.Buffer
	if err := inst.Logs(ctx, &logs); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	for _, want := range []string{"testapp: listening on :" + strconv.Itoa(port) + "\n", "testapp: stderr is attached\n"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("Logs = %q, want it to contain %q", logs.String(), want)
		}
	}

	// Limits: visible in the container's own cgroup files.
	cgroupFile(t, inst, strconv.Itoa(memory), "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")
	cgroupFile(t, inst, "50000", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max")
	// cgroup v2 converts shares to a weight: 1 + (512-2)*9999/262142 = 20.
	cgroupFile(t, inst, "512|20", "/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/cpu.weight")

	// Stats. Polled: a runtime may read them from a source that samples (the kubelet's
	// Summary API refreshes every 10-15 s).
	var st runtime.Stats
	eventually(t, "Stats with RSS, Usage and CPU > 0", func() (bool, string) {
		var err error
		st, err = inst.Stats(ctx)
		return err == nil && st.RSS > 0 && st.Usage > 0 && st.CPU > 0, fmt.Sprintf("%+v %v", st, err)
	})
	if st.Peak != 0 && st.Peak < st.Usage {
		t.Errorf("Stats = %+v, want Peak >= Usage", st)
	}
	if st.Limit != memory {
		t.Errorf("Stats.Limit = %d, want %d", st.Limit, memory)
	}
	execIn(t, inst, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	eventually(t, "Stats after work with more CPU", func() (bool, string) {
		st2, err := inst.Stats(ctx)
		return err == nil && st2.CPU > st.CPU, fmt.Sprintf("%+v %v; want CPU above %s", st2, err, st.CPU)
	})

	// Labels.
	got, err := s.labels(ctx, inst.ID())
	if err != nil {
		t.Fatalf("labels: %v", err)
	}
	for k, v := range map[string]string{"com.example.suite": "runtimetest", runtime.LabelRun: s.runID, runtime.LabelRole: "lifecycle"} {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got[k], v, got)
		}
	}

	// State and health.
	state, err := inst.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if !state.Running || state.ExitCode != 0 || state.Signal != 0 || state.OOMKilled ||
		state.StartedAt.IsZero() || state.StartedAt.After(time.Now().Add(time.Minute)) || !state.FinishedAt.IsZero() {
		t.Errorf("State of a running container = %+v", state)
	}
	if s.noHealth {
		if state.Health != runtime.HealthNone {
			t.Errorf("State.Health = %q on a runtime without HEALTHCHECK, want none", state.Health)
		}
	} else {
		eventually(t, "the image's HEALTHCHECK to report healthy", func() (bool, string) {
			st, err := inst.State(ctx)
			return err == nil && st.Health == runtime.HealthHealthy, fmt.Sprintf("%+v %v", st, err)
		})
	}

	// PID: the host PID of /app.
	if s.noPID {
		wantErr(t, "PID on a runtime without host PIDs", runtime.ErrStatsUnavailable, func() error { _, err := inst.PID(ctx); return err })
	} else {
		pid, err := inst.PID(ctx)
		if err != nil {
			t.Fatalf("PID: %v", err)
		}
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !bytes.HasPrefix(cmdline, []byte("/app\x00")) {
			t.Errorf("/proc/%d/cmdline = %q, %v; want /app", pid, cmdline, err)
		}
	}

	// Stop: graceful (the server exits 0 on SIGTERM), idempotent, and the state survives.
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
	after, err := inst.State(ctx)
	if err != nil {
		t.Fatalf("State after Stop: %v", err)
	}
	if after.Running || after.ExitCode != 0 || after.Signal != 0 || after.FinishedAt.Before(after.StartedAt) || !after.StartedAt.Equal(state.StartedAt) {
		t.Errorf("State after a graceful Stop = %+v (started %s)", after, state.StartedAt)
	}
	wantErr(t, "Exec after Stop", runtime.ErrRemoved, func() error { _, err := inst.Exec(ctx, []string{"true"}); return err })
	wantErr(t, "Endpoint after Stop", runtime.ErrRemoved, func() error { _, err := inst.Endpoint(ctx, port); return err })
	wantErr(t, "Stats after Stop", runtime.ErrRemoved, func() error { _, err := inst.Stats(ctx); return err })
	wantErr(t, "PID after Stop", runtime.ErrRemoved, func() error { _, err := inst.PID(ctx); return err })
	wantErr(t, "Logs after Stop", runtime.ErrRemoved, func() error { return inst.Logs(ctx, io.Discard) })
}

func (s *suite) exitsAtOnce(t *testing.T) {
	ctx := t.Context()
	spec, port := s.specPort("exits")
	spec.Cmd = []string{"exit", "3"}
	spec.Ports = []int{port}
	inst := s.start(t, spec)
	st := waitExited(t, inst)
	if st.ExitCode != 3 || st.Signal != 0 || st.OOMKilled || st.FinishedAt.IsZero() {
		t.Errorf("State = %+v, want exit code 3, no signal, finished", st)
	}
	var logs bytes.Buffer
	if err := inst.Logs(ctx, &logs); err != nil || !strings.Contains(logs.String(), "testapp: exiting with 3") {
		t.Errorf("Logs of an exited container = %q, %v", logs.String(), err)
	}
	wantErr(t, "Exec in an exited container", runtime.ErrNotRunning, func() error { _, err := inst.Exec(ctx, []string{"true"}); return err })
	wantErr(t, "Endpoint of an exited container", runtime.ErrNotRunning, func() error { _, err := inst.Endpoint(ctx, port); return err })
	wantErr(t, "Stats of an exited container", runtime.ErrNotRunning, func() error { _, err := inst.Stats(ctx); return err })
	wantErr(t, "PID of an exited container", runtime.ErrNotRunning, func() error { _, err := inst.PID(ctx); return err })
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("Stop of an exited container: %v", err)
	}
	if after, err := inst.State(ctx); err != nil || after.ExitCode != 3 || after.Running {
		t.Errorf("State after Stop = %+v, %v; want exit code 3", after, err)
	}
}

func (s *suite) killedAfterGrace(t *testing.T) {
	ctx := t.Context()
	inst := s.start(t, s.sleeper("killed"))
	if st, err := inst.State(ctx); err != nil || !st.Running {
		t.Fatalf("State = %+v, %v; want running", st, err)
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st, err := inst.State(ctx)
	if err != nil {
		t.Fatalf("State after Stop: %v", err)
	}
	if st.Running || st.ExitCode != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("State of a process that ignores SIGTERM, after Stop = %+v, want exit 137 by SIGKILL", st)
	}
}

func (s *suite) outOfMemory(t *testing.T) {
	spec := s.spec("oom")
	spec.Cmd = []string{"oom"}
	spec.Memory = 32 << 20
	inst := s.start(t, spec)
	st := waitExited(t, inst)
	if !st.OOMKilled || st.ExitCode != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("State of a process over its memory limit = %+v, want OOM-killed by SIGKILL (137)", st)
	}
}

func (s *suite) readOnlyRoot(t *testing.T) {
	spec := s.sleeper("readonly")
	spec.ReadOnlyRoot = true
	spec.Tmpfs = map[string]string{"/tmp": "size=1m"}
	inst := s.start(t, spec)
	if res := execIn(t, inst, "touch", "/probe"); res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "Read-only file system") {
		t.Errorf("touch /probe on a read-only root: exit %d stderr %q, want a read-only failure", res.ExitCode, res.Stderr)
	}
	if res := execIn(t, inst, "sh", "-c", "echo x > /tmp/probe && cat /tmp/probe"); res.ExitCode != 0 || string(res.Stdout) != "x\n" {
		t.Errorf("write to the tmpfs: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

func (s *suite) user(t *testing.T) {
	spec := s.sleeper("user")
	spec.User = "1234:2345"
	inst := s.start(t, spec)
	if res := execIn(t, inst, "id", "-u"); string(res.Stdout) != "1234\n" {
		t.Errorf("id -u = %q, want 1234", res.Stdout)
	}
	if res := execIn(t, inst, "id", "-g"); string(res.Stdout) != "2345\n" {
		t.Errorf("id -g = %q, want 2345", res.Stdout)
	}
}

func (s *suite) hostNetwork(t *testing.T) {
	port := freePort(t)
	spec := s.spec("hostnet")
	spec.HostNetwork = true
	spec.Ports = []int{port}
	spec.Env = []string{"PORT=" + strconv.Itoa(port)}
	if s.hostNetOnly {
		spec.Env = append(spec.Env, "LISTEN_ADDR=127.0.0.1")
	}
	inst := s.start(t, spec)
	addr, err := inst.Endpoint(t.Context(), port)
	if err != nil {
		t.Fatalf("Endpoint: %v", err)
	}
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(port)); addr != want {
		t.Errorf("Endpoint on the host network = %q, want %q", addr, want)
	}
	if body := httpGet(t, addr, "/"); body != "plimsoll-testapp\n" {
		t.Errorf("GET / = %q", body)
	}
}

func (s *suite) imageNotFound(t *testing.T) {
	spec := s.spec("missing")
	spec.Image = s.images.Missing
	wantErr(t, "Start of a missing image", runtime.ErrImageNotFound, func() error { return startErr(t, s.newRuntime(t), spec) })
}

func (s *suite) startFailure(t *testing.T) {
	spec := s.spec("nostart")
	spec.Entrypoint = []string{"/no/such/entrypoint"}
	wantErr(t, "Start with a missing entrypoint", runtime.ErrStartFailed, func() error { return startErr(t, s.newRuntime(t), spec) })
}

func (s *suite) invalidSpec(t *testing.T) {
	spec := s.spec("invalid")
	spec.Labels = map[string]string{runtime.LabelRun: "forged"}
	wantErr(t, "Start with a reserved label", runtime.ErrInvalidSpec, func() error { return startErr(t, s.newRuntime(t), spec) })
}

// startErr starts spec, which should fail; an instance it gets anyway is stopped at cleanup.
func startErr(t *testing.T, rt runtime.Runtime, spec runtime.Spec) error {
	inst, err := rt.Start(t.Context(), spec)
	if err == nil {
		t.Cleanup(func() { _ = inst.Stop(context.Background()) })
	}
	return err
}

// execIn runs cmd in inst; an error (not a non-zero exit) fails the test.
func execIn(t *testing.T, inst runtime.Instance, cmd ...string) runtime.ExecResult {
	t.Helper()
	res, err := inst.Exec(t.Context(), cmd)
	if err != nil {
		t.Fatalf("Exec %q: %v", cmd, err)
	}
	return res
}

// cgroupFile checks that the first readable of files in the container holds one of the
// '|'-separated values of want (as the first field).
func cgroupFile(t *testing.T, inst runtime.Instance, want string, files ...string) {
	t.Helper()
	script := ""
	for _, f := range files {
		script += "cat " + f + " 2>/dev/null || "
	}
	res := execIn(t, inst, "sh", "-c", script+"exit 1")
	got := strings.Fields(string(res.Stdout))
	for _, w := range strings.Split(want, "|") {
		if res.ExitCode == 0 && len(got) > 0 && got[0] == w {
			return
		}
	}
	t.Errorf("cgroup %v in the container = %q (exit %d), want %s", files, res.Stdout, res.ExitCode, want)
}

// wantErr checks that fn's error is target.
func wantErr(t *testing.T, what string, target error, fn func() error) {
	t.Helper()
	if err := fn(); !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// waitExited waits for inst's process to exit and returns its state.
func waitExited(t *testing.T, inst runtime.Instance) runtime.State {
	t.Helper()
	var st runtime.State
	eventually(t, "the process to exit", func() (bool, string) {
		var err error
		st, err = inst.State(t.Context())
		return err == nil && !st.Running, fmt.Sprintf("%+v %v", st, err)
	})
	return st
}

// eventually polls cond until it holds, failing the test after wait with cond's last word.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last: %s", wait, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpGet returns the body of GET http://addr/path, retrying while the server starts.
func httpGet(t *testing.T, addr, path string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	var body string
	eventually(t, "http://"+addr+path+" to answer", func() (bool, string) {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && resp.StatusCode == http.StatusOK, fmt.Sprintf("%s %q %v", resp.Status, b, err)
	})
	return body
}

// mustLoopback checks that addr is host:port with a loopback IP host.
func mustLoopback(t *testing.T, addr string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		t.Fatalf("Endpoint = %q, want a loopback IP:port (%v)", addr, err)
	}
}

// freePort returns a TCP port free on the host's loopback right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freePortNoT is freePort for the spec builders; port 0 (an invalid spec) if none is free.
func freePortNoT() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
