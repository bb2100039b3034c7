// Package launch starts the application of the policy (config.App) from an image and tells
// when it is up: it is what the runtime layers (smoke, functional, perf, harden, soak) share
// to run OLD and NEW the same way. Start loads the image into the runtime and starts one
// container with the app's command, user, environment, port, root filesystem and limits;
// App.WaitHealthy waits for the app's health probe, failing fast when the container exits;
// ScanLogs finds the lines of a container's output that say it is broken.
//
// The app is reached on 127.0.0.1 only: its port is published on a loopback port, or the
// container shares the host's network.
package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Loader makes an image available to a runtime and returns the reference to start it by
// (runtime/docker.Runtime loads it into the Docker engine).
type Loader interface {
	// Ensure loads img unless the runtime already holds it; ref is the tag to give it, "" for none.
	Ensure(ctx context.Context, img v1.Image, ref string) (string, error)
}

// Options say which container of the run this is, and what it changes of the app's spec.
type Options struct {
	// RunID and Role label the container (runtime.Spec); Role tells OLD from NEW and one
	// layer's containers from another's ("smoke-old").
	RunID, Role string
	// RootFS, when not nil, replaces the app's ReadOnlyRoot and Tmpfs (Layer 5 runs the app
	// with the policy's hardening instead).
	RootFS *RootFS
}

// RootFS says how the container's root filesystem is mounted.
type RootFS struct {
	ReadOnly bool
	// Tmpfs are the paths that get a tmpfs, owned by the container's user.
	Tmpfs []string
}

// App is one started container of the application.
type App struct {
	Instance runtime.Instance
	// Port is the container port the app listens on: the policy's, else the image's first
	// (lowest) exposed TCP port; 0 when neither names one.
	Port int
	// Endpoint is the loopback address of Port ("127.0.0.1:49153"); "" when Port is 0 or the
	// container had already exited when Start asked for it.
	Endpoint string
	// StartedAt is when Start asked the runtime to start the container, the image already
	// loaded: the origin of the time WaitHealthy measures.
	StartedAt time.Time

	// healthcheck is the image's own HEALTHCHECK, nil without one.
	healthcheck *v1.HealthConfig
}

// Start loads img into the runtime through ld and starts app from it. The caller must Stop
// a.Instance on every path (context.WithoutCancel(ctx) keeps the grace period on cancelled
// runs). A process the runtime cannot start at all (a missing entrypoint, an unknown user)
// is an error wrapping runtime.ErrStartFailed: the image's fault; any other error means the
// app could not be tried.
func Start(ctx context.Context, rt runtime.Runtime, ld Loader, img *image.Image, app config.App, opts Options) (*App, error) {
	if img == nil || img.Img == nil {
		return nil, errors.New("launch: no image")
	}
	memory, err := config.ParseBytes(app.Memory)
	if err != nil {
		return nil, fmt.Errorf("launch %s: memory limit: %w", opts.Role, err)
	}
	port := app.Port
	if port == 0 {
		port = exposedPort(img.Config)
	}
	env := app.Env
	if app.HostNetwork && app.PortEnv != "" {
		if port, err = freePort(); err != nil {
			return nil, fmt.Errorf("launch %s: a port for %s: %w", opts.Role, app.PortEnv, err)
		}
		env = append(slices.Clip(app.Env), app.PortEnv+"="+strconv.Itoa(port))
	}
	// The image is loaded untagged: a tag could replace one of the engine's own images.
	ref, err := ld.Ensure(ctx, img.Img, "")
	if err != nil {
		return nil, fmt.Errorf("launch %s: load %s into the runtime: %w", opts.Role, img.Ref, err)
	}
	spec := runtime.Spec{
		Image:        ref,
		RunID:        opts.RunID,
		Role:         opts.Role,
		Entrypoint:   app.Entrypoint,
		Cmd:          app.Cmd,
		Env:          env,
		User:         app.User,
		HostNetwork:  app.HostNetwork,
		ReadOnlyRoot: app.ReadOnlyRoot,
		Memory:       memory,
		CPUs:         app.CPUs,
	}
	paths := app.Tmpfs
	if opts.RootFS != nil {
		spec.ReadOnlyRoot, paths = opts.RootFS.ReadOnly, opts.RootFS.Tmpfs
	}
	if len(paths) > 0 {
		user := app.User
		if user == "" && img.Config != nil {
			user = img.Config.Config.User
		}
		if spec.Tmpfs, err = tmpfs(ctx, img, user, paths); err != nil {
			return nil, fmt.Errorf("launch %s: %w", opts.Role, err)
		}
	}
	if port != 0 {
		spec.Ports = []int{port}
	}
	a := &App{Port: port, StartedAt: time.Now()}
	if img.Config != nil {
		a.healthcheck = img.Config.Config.Healthcheck
	}
	inst, err := rt.Start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("launch %s from %s: %w", opts.Role, img.Ref, err)
	}
	a.Instance = inst
	if port != 0 {
		ep, err := inst.Endpoint(ctx, port)
		switch {
		case err == nil:
			a.Endpoint = ep
		case errors.Is(err, runtime.ErrNotRunning):
			// Exited already: WaitHealthy reports how.
		default:
			_ = inst.Stop(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("launch %s: %w", opts.Role, err)
		}
	}
	return a, nil
}

// freePort asks the kernel for a port free on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Together says whether OLD and NEW of app can run at once (Layers 4 and 6 run them side by
// side): not on the host network with one fixed port, where the second could not listen.
func Together(app config.App) error {
	if app.HostNetwork && app.PortEnv == "" {
		return ErrSharedPort
	}
	return nil
}

// ErrSharedPort reports OLD and NEW that would both listen on one port of the host network.
var ErrSharedPort = errors.New("OLD and NEW run at once on the host network and cannot both listen on app.port: set app.portEnv to the variable the app reads its port from, and each gets a free port through it")

// exposedPort returns the lowest TCP port the image exposes, 0 for none.
func exposedPort(cf *v1.ConfigFile) int {
	if cf == nil {
		return 0
	}
	var ports []int
	for p := range cf.Config.ExposedPorts {
		num, proto, _ := strings.Cut(p, "/")
		if proto != "" && !strings.EqualFold(proto, "tcp") {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n > 0 && n < 65536 {
			ports = append(ports, n)
		}
	}
	if len(ports) == 0 {
		return 0
	}
	return slices.Min(ports)
}

// Logs returns everything the container has written so far, stdout and stderr.
func (a *App) Logs(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if err := a.Instance.Logs(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LastLines returns the last n non-blank lines of logs, trimmed, for quoting in a message.
func LastLines(logs []byte, n int) []string {
	var out []string
	lines := strings.Split(string(logs), "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := clip(strings.TrimSpace(lines[i])); l != "" {
			out = append(out, l)
		}
	}
	slices.Reverse(out)
	return out
}

// maxLine is the longest log line a hit or a quote carries.
const maxLine = 240

func clip(s string) string {
	if len(s) <= maxLine {
		return s
	}
	return strings.ToValidUTF8(s[:maxLine], "") + "…"
}
