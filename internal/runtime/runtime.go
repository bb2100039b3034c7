// Package runtime is the seam between plimsoll's runtime layers (smoke, functional, perf,
// harden, soak) and the engine that runs containers. A Runtime starts one container from a
// Spec; the Instance it returns gives a loopback endpoint, exec, logs, state, resource
// statistics and the host PID, and stops (removes) the container.
//
// Implementations live in subpackages (docker for the Docker Engine API, which Podman's
// Docker-compatible socket also speaks); runtimetest is the conformance suite every
// implementation must pass. This package imports no engine SDK.
//
// # Errors
//
// Callers branch on these sentinels (always wrapped, test with errors.Is):
//
//   - ErrNoEngine: the engine does not answer; nothing about the images can be told.
//   - ErrImageNotFound: Spec.Image is not known to the engine (runtimes never pull).
//   - ErrInvalidSpec: the Spec is malformed (a bug in the caller, not in the image).
//   - ErrStartFailed: the engine created the container but could not start its process (a
//     missing entrypoint, an unknown user…): the image's fault, not the tool's.
//   - ErrNotRunning: the container has exited; State and Logs still work until Stop.
//   - ErrRemoved: the container is gone (Stop was called, or someone removed it).
//   - ErrStatsUnavailable: the container's cgroup cannot be read from this host (a remote
//     engine, another PID namespace); the container itself is fine.
//
// Any other error means the runtime could not tell; a check records it as an error, never as
// a regression of the image.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"
)

// Sentinel errors; see the package documentation.
var (
	ErrNoEngine         = errors.New("no container engine answers")
	ErrImageNotFound    = errors.New("image not found in the container engine")
	ErrInvalidSpec      = errors.New("invalid container spec")
	ErrStartFailed      = errors.New("container did not start")
	ErrNotRunning       = errors.New("container is not running")
	ErrRemoved          = errors.New("container has been removed")
	ErrStatsUnavailable = errors.New("container statistics are not readable from this host")
	// ErrEngineHung: an engine call got no answer within the runtime's call timeout. It is
	// not context.DeadlineExceeded: the caller's own deadline did not pass.
	ErrEngineHung = errors.New("the container engine stopped answering")
)

// Labels every runtime puts on the containers it starts. Keys under LabelPrefix are reserved:
// a Spec may not set them.
const (
	LabelPrefix  = "plimsoll."
	LabelRun     = "plimsoll.run"     // Spec.RunID
	LabelRole    = "plimsoll.role"    // Spec.Role
	LabelPID     = "plimsoll.pid"     // PID of the plimsoll process that started the container
	LabelHost    = "plimsoll.host"    // hostname of the machine that process runs on
	LabelStarted = "plimsoll.started" // when the container was created, RFC 3339 UTC
)

// Spec says what to run. The zero value of every optional field means "as the image says" or
// "no limit".
type Spec struct {
	// Image is an image reference or ID known to the runtime. Runtimes never pull.
	Image string
	// RunID names the plimsoll run; every container is labelled LabelRun=RunID, and a run's
	// leftovers are found by it. Letters, digits, '_', '.', '-'; at most 64.
	RunID string
	// Role says what the container is for within the run ("old", "new", "runner"…), labelled
	// LabelRole. Same alphabet as RunID.
	Role string
	// Entrypoint and Cmd replace the image's own when non-empty. Setting Entrypoint drops the
	// image's Cmd, as `docker run --entrypoint` does.
	Entrypoint, Cmd []string
	// Env is added to the image's environment ("KEY=value").
	Env []string
	// User replaces the image's user ("uid", "uid:gid", "name") when non-empty.
	User string
	// Ports are container TCP ports to reach from the host. They are published on 127.0.0.1
	// only, on free host ports the engine picks, so parallel runs never collide.
	Ports []int
	// HostNetwork runs the container in the host's network namespace instead; then
	// Endpoint(port) is 127.0.0.1:port.
	HostNetwork bool
	// ReadOnlyRoot mounts the root filesystem read-only.
	ReadOnlyRoot bool
	// Tmpfs mounts a tmpfs at each path (absolute), with mount options such as "size=16m".
	Tmpfs map[string]string
	// Memory limits memory in bytes (swap included: the container gets no swap); 0 = unlimited.
	Memory int64
	// CPUs limits CPU time in CPUs (0.5 = half of one); 0 = unlimited.
	CPUs float64
	// CPUShares is a relative CPU weight (1024 = default); 0 = the default.
	CPUShares int64
	// Labels are added to the container. Keys under LabelPrefix are reserved.
	Labels map[string]string
}

// ExecResult is what a command run in a container did.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Health is the status of the image's own HEALTHCHECK.
type Health string

// Health values; HealthNone when the image declares no HEALTHCHECK.
const (
	HealthNone      Health = ""
	HealthStarting  Health = "starting"
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy"
)

// State is what the engine knows about a container's main process.
type State struct {
	Running bool
	// ExitCode is the main process's exit code once it has exited (0 while running).
	ExitCode int
	// OOMKilled reports that the kernel killed a process of the container for want of memory.
	OOMKilled bool
	// Signal is the signal that ended the main process, read from an exit code above 128
	// (SignalFromExitCode); 0 otherwise.
	Signal syscall.Signal
	// StartedAt and FinishedAt are zero until the process started or finished.
	StartedAt, FinishedAt time.Time
	// Health is the image's HEALTHCHECK status, HealthNone without one.
	Health Health
}

// Stats are a container's resource use, read from its cgroup.
type Stats struct {
	// RSS is the anonymous memory of the container's processes (cgroup v1 total_rss, v2 anon):
	// what the application itself holds, page cache excluded.
	RSS int64
	// Usage is all memory charged to the container, page cache included.
	Usage int64
	// Peak is the high-water mark of Usage since the container started; 0 where the kernel
	// keeps none (cgroup v2 before Linux 5.19).
	Peak int64
	// Limit is the container's memory limit; 0 = unlimited.
	Limit int64
	// CPU is the CPU time all processes of the container have used since it started.
	CPU time.Duration
}

// Runtime starts containers.
type Runtime interface {
	// Start creates and starts a container from spec and returns it running (its process may
	// exit at any time after). It never pulls: an image the engine does not hold is
	// ErrImageNotFound. When the process cannot be started the container is removed and the
	// error wraps ErrStartFailed. The caller must Stop every Instance it gets. A Start
	// interrupted by ctx may leave a container behind that it could not report; runtimes
	// label containers with Spec.RunID so that run-wide cleanup finds it.
	Start(ctx context.Context, spec Spec) (Instance, error)
}

// Instance is one started container. Its methods are safe for concurrent use.
type Instance interface {
	// ID is the engine's container ID.
	ID() string
	// Endpoint returns the host address of container TCP port (one of Spec.Ports), always a
	// loopback address such as "127.0.0.1:49153", never a bridge IP. ErrNotRunning once the
	// container has exited.
	Endpoint(ctx context.Context, port int) (string, error)
	// Exec runs cmd in the container as the container's user and waits for it. A command
	// that runs and fails is a result with its exit code, not an error. ErrNotRunning once
	// the container has exited. Cancelling ctx abandons the command, which may keep running.
	Exec(ctx context.Context, cmd []string) (ExecResult, error)
	// Logs writes everything the container has written so far, stdout and stderr, to w.
	// It works on an exited container until Stop.
	Logs(ctx context.Context, w io.Writer) error
	// State reports the container's state. After Stop it returns the state captured just
	// before the container was removed.
	State(ctx context.Context) (State, error)
	// Stats reads the container's resource use from its cgroup files (fast: no engine call).
	// ErrNotRunning once the container has exited; ErrStatsUnavailable when the cgroup is
	// not readable from this host.
	Stats(ctx context.Context) (Stats, error)
	// PID returns the host PID of the container's main process (for /proc sampling).
	// ErrNotRunning once the container has exited.
	PID(ctx context.Context) (int, error)
	// Stop stops the container (its stop signal, SIGTERM by default; SIGKILL after the
	// runtime's grace period) and removes it with its anonymous volumes. It is idempotent,
	// safe after the container died or was removed by someone else, and still cleans up when
	// ctx is already cancelled (then without the grace period), so cleanup paths may pass the
	// run's context; context.WithoutCancel(ctx) keeps the grace period.
	Stop(ctx context.Context) error
}

// SignalFromExitCode returns the signal a shell-style exit code above 128 reports (137 →
// SIGKILL), or 0 when the code reports none.
func SignalFromExitCode(code int) syscall.Signal {
	if code > 128 && code < 128+65 {
		return syscall.Signal(code - 128)
	}
	return 0
}
