// Package docker implements runtime.Runtime over the Docker Engine API (github.com/moby/moby/client),
// which Podman's Docker-compatible socket also speaks. The API version is negotiated, so
// engines from Docker 20.10 (API 1.41) on work; DOCKER_HOST and the other DOCKER_* variables
// are honoured unless WithHost says otherwise.
//
// Every container it starts is named plimsoll-<run>-<role>-<random> and labelled with the
// run, the role, and the PID and hostname of the plimsoll process that started it, so GC can
// remove what a crashed run left behind and StopRun what an interrupted one is leaving. No
// restart policy, no auto-remove: Stop reads the exit state, then removes the container.
// Ports are published on 127.0.0.1 only, on host ports the engine picks.
package docker

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// DefaultStopGrace is how long Stop waits after the stop signal before SIGKILL.
const DefaultStopGrace = 5 * time.Second

// pingTimeout bounds New's first call, so a socket nobody serves fails fast.
const pingTimeout = 10 * time.Second

// cleanupTimeout bounds the engine calls of a Stop made with a cancelled context.
const cleanupTimeout = 30 * time.Second

// DefaultCallTimeout is how long one engine call may wait for the engine's answer before it
// fails as hung (the policy's app.engineTimeout).
const DefaultCallTimeout = 60 * time.Second

// Runtime starts containers in one Docker engine. It is safe for concurrent use.
type Runtime struct {
	cli   *client.Client
	log   *slog.Logger
	grace time.Duration
	call  time.Duration // how long a call waits for the engine's answer
	owner owner
	track *runtime.Tracker // the containers started and removed, from New's ctx; nil records nothing
}

var _ runtime.Runtime = (*Runtime)(nil)

// owner identifies the plimsoll process that starts containers (labels LabelPID, LabelHost).
type owner struct {
	pid  int
	host string
}

// Option configures New.
type Option func(*options)

type options struct {
	host  string
	log   *slog.Logger
	grace time.Duration
	call  time.Duration
}

// WithHost talks to the engine at host ("unix:///run/podman/podman.sock",
// "tcp://127.0.0.1:2375") instead of $DOCKER_HOST or the default socket.
func WithHost(host string) Option { return func(o *options) { o.host = host } }

// WithLogger sends diagnostics to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithCallTimeout bounds how long every engine call, cleanup included, waits for the engine to
// start answering (default DefaultCallTimeout): an engine that stops answering fails the call
// instead of holding the run. Streams (logs, stats, an image load's progress) are bounded only
// until their first byte; their caller's ctx bounds the rest.
// A d of 0 or less keeps the default.
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.call = d
		}
	}
}

// WithStopGrace sets how long Stop waits for a container to exit after its stop signal
// before killing it (default DefaultStopGrace; rounded up to whole seconds, the engine's unit).
func WithStopGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// New connects to the engine and checks that it answers. The containers the Runtime starts and
// removes are recorded in the runtime.Tracker ctx carries, if any. An engine that does not is an error
// wrapping runtime.ErrNoEngine that names the address tried.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	o := options{grace: DefaultStopGrace, call: DefaultCallTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	// The client's own transport, with every answer bounded; the host options configure its
	// dialer. TLSNextProto is set (no HTTP/2) because the client clones the transport, and a
	// clone of one without it gets a TLS config, which makes the client speak https to a plain
	// socket; $DOCKER_TLS_VERIFY still sets TLS up.
	hc := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: o.call, MaxIdleConns: 6, IdleConnTimeout: 30 * time.Second,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	copts := []client.Opt{client.WithHTTPClient(hc), client.WithHost(client.DefaultDockerHost), client.FromEnv}
	if o.host != "" {
		copts = append(copts, client.WithHost(o.host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), ctx.Err())
		}
		return nil, &engineError{host: cli.DaemonHost(), err: err}
	}
	host, err := os.Hostname()
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("hostname: %w", err)
	}
	return &Runtime{cli: cli, log: o.log, grace: o.grace, call: o.call, owner: owner{pid: os.Getpid(), host: host},
		track: runtime.TrackerFrom(ctx)}, nil
}

// Close releases the client's connections. Instances must not be used afterwards.
func (r *Runtime) Close() error { return r.cli.Close() }

// engineError is a failure to reach the engine; it is runtime.ErrNoEngine.
type engineError struct {
	host string
	err  error
}

func (e *engineError) Error() string {
	return fmt.Sprintf("no Docker engine answers at %s: %v", e.host, e.err)
}
func (e *engineError) Unwrap() error        { return e.err }
func (e *engineError) Is(target error) bool { return target == runtime.ErrNoEngine }

// hungError is an engine call that got no answer within the call timeout: it is
// runtime.ErrEngineHung. It does not unwrap to the transport's error, which matches
// context.DeadlineExceeded and would read as the caller's own deadline (a run's time budget).
type hungError struct {
	call  string // "GET /containers/…/json"
	after time.Duration
}

func (e *hungError) Error() string {
	return fmt.Sprintf("%v: no answer to %s within %s (app.engineTimeout)", runtime.ErrEngineHung, e.call, e.after)
}
func (e *hungError) Is(target error) bool { return target == runtime.ErrEngineHung }

// apiVersion is the "/v1.47" an engine API path starts with.
var apiVersion = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

// engineErr turns a connection failure into runtime.ErrNoEngine and a call the engine did not
// answer within the call timeout into runtime.ErrEngineHung; other errors pass unchanged.
func (r *Runtime) engineErr(err error) error {
	if client.IsErrConnectionFailed(err) {
		return &engineError{host: r.cli.DaemonHost(), err: err}
	}
	// net/http's error for a ResponseHeaderTimeout has no type of its own to match.
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() && strings.Contains(ue.Err.Error(), "timeout awaiting response headers") {
		// The URL's host is the socket's path, escaped ("http://%2Frun%2Fdocker.sock/v1.47/…"),
		// which url.Parse refuses: the path is what follows it.
		_, rest, _ := strings.Cut(ue.URL, "://")
		_, path, _ := strings.Cut(rest, "/")
		path, _, _ = strings.Cut(path, "?")
		return &hungError{call: strings.ToUpper(ue.Op) + " " + apiVersion.ReplaceAllString("/"+path, ""), after: r.call}
	}
	return err
}

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg, hc := r.containerConfig(spec)
	name := fmt.Sprintf("plimsoll-%s-%s-%s", spec.RunID, spec.Role, randomHex(3))
	created, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: name})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("start %s: %w: %s: %v", spec.Role, runtime.ErrImageNotFound, spec.Image, err)
		}
		return nil, fmt.Errorf("start %s: create container from %s: %w", spec.Role, spec.Image, r.engineErr(err))
	}
	r.track.Started(name)
	for _, w := range created.Warnings { // e.g. a memory limit the kernel cannot apply to swap
		r.log.Warn("engine warning", "container", name, "warning", w)
	}
	inst := &instance{r: r, id: created.ID, name: name, hostNetwork: spec.HostNetwork, ports: map[int]bool{}}
	for _, p := range spec.Ports {
		inst.ports[p] = true
	}
	if _, err := r.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, rerr := r.cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			r.log.Warn("remove container that did not start", "container", name, "err", rerr)
		} else {
			r.track.Removed(name)
		}
		if ctx.Err() != nil || client.IsErrConnectionFailed(err) {
			return nil, fmt.Errorf("start %s (%s): %w", spec.Role, spec.Image, r.engineErr(err))
		}
		return nil, fmt.Errorf("start %s (%s): %w: %v", spec.Role, spec.Image, runtime.ErrStartFailed, err)
	}
	r.log.Debug("container started", "container", name, "id", created.ID, "image", spec.Image)
	return inst, nil
}

// containerConfig translates spec into the engine's create request.
func (r *Runtime) containerConfig(spec runtime.Spec) (*container.Config, *container.HostConfig) {
	labels := map[string]string{
		runtime.LabelRun:     spec.RunID,
		runtime.LabelRole:    spec.Role,
		runtime.LabelPID:     strconv.Itoa(r.owner.pid),
		runtime.LabelHost:    r.owner.host,
		runtime.LabelStarted: time.Now().UTC().Format(time.RFC3339Nano),
	}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		User:       spec.User,
		Labels:     labels,
	}
	hc := &container.HostConfig{
		ReadonlyRootfs: spec.ReadOnlyRoot,
		Tmpfs:          spec.Tmpfs,
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources: container.Resources{
			Memory:    spec.Memory,
			NanoCPUs:  int64(spec.CPUs * 1e9),
			CPUShares: spec.CPUShares,
		},
	}
	if spec.Memory > 0 {
		hc.MemorySwap = spec.Memory // no swap: the limit is the limit
	}
	if spec.HostNetwork {
		hc.NetworkMode = network.NetworkHost
		return cfg, hc
	}
	if len(spec.Ports) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		hc.PortBindings = network.PortMap{}
		for _, p := range spec.Ports {
			port, _ := network.PortFrom(uint16(p), network.TCP) // Validate checked the range
			cfg.ExposedPorts[port] = struct{}{}
			hc.PortBindings[port] = []network.PortBinding{{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1})}}
		}
	}
	return cfg, hc
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Ensure makes img available to the engine and returns the reference to run it by: its image
// ID. When the engine already holds an image with img's ID (its config digest, or its
// manifest digest for engines that use that as ID), nothing is loaded; otherwise img is
// streamed into the engine as a `docker save` archive, tagged ref when ref parses as a tag
// ("repo:tag"; a bare "repo" is repo:latest), untagged when ref is "" or a digest reference.
func (r *Runtime) Ensure(ctx context.Context, img v1.Image, ref string) (string, error) {
	cfgName, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("ensure image: config digest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("ensure image: manifest digest: %w", err)
	}
	ids := []string{cfgName.String(), digest.String()}
	if id, err := r.imageID(ctx, ids); err == nil || !errors.Is(err, runtime.ErrImageNotFound) {
		return id, err
	}
	var tref name.Reference
	if t, err := name.NewTag(ref); err == nil && ref != "" {
		tref = t
		ids = append(ids, ref)
	} else if tref, err = name.NewDigest("plimsoll.invalid/ensure@" + digest.String()); err != nil {
		return "", fmt.Errorf("ensure image: %w", err)
	}
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(tarball.Write(tref, img, pw)) }()
	resp, err := r.cli.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		_ = pr.CloseWithError(err)
		return "", fmt.Errorf("ensure image %s: load: %w", cfgName, r.engineErr(err))
	}
	err = loadError(resp)
	_ = resp.Close()
	_ = pr.CloseWithError(errors.New("load finished")) // ends the writer if the engine stopped reading
	if err != nil {
		return "", fmt.Errorf("ensure image %s: load: %w", cfgName, err)
	}
	id, err := r.imageID(ctx, ids)
	if err != nil {
		return "", fmt.Errorf("ensure image %s: loaded, but: %w", cfgName, err)
	}
	r.log.Debug("image loaded", "id", id, "ref", ref)
	return id, nil
}

// imageID returns the ID of the first of refs the engine knows.
func (r *Runtime) imageID(ctx context.Context, refs []string) (string, error) {
	for _, ref := range refs {
		res, err := r.cli.ImageInspect(ctx, ref)
		if err == nil {
			return res.ID, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("inspect image %s: %w", ref, r.engineErr(err))
		}
	}
	return "", fmt.Errorf("%w: %s", runtime.ErrImageNotFound, refs[0])
}

// loadError reads an image-load response stream to its end and returns the error it reports.
func loadError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read load response: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
	}
}
