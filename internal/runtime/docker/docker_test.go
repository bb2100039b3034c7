package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/runtimetest"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// newTestRuntime connects to the test engine (skipping or failing as testenv says when there
// is none) with a 1 s stop grace.
func newTestRuntime(t testing.TB) *Runtime {
	t.Helper()
	testenv.Docker(t)
	rt, err := New(context.Background(), WithStopGrace(time.Second))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// recorder tracks the run of every container the conformance suite starts.
type recorder struct{ *Runtime }

func (r recorder) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	testenv.Track(spec.RunID)
	return r.Runtime.Start(ctx, spec)
}

// appImage builds the conformance image, loads it with Ensure and removes it at cleanup.
func appImage(t testing.TB, rt *Runtime) string {
	t.Helper()
	img := runtimetest.AppImage(t)
	ref, err := rt.Ensure(context.Background(), img, "plimsoll-test/runtimetest-app:"+randomHex(4))
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	removeImage(t, rt, ref)
	return ref
}

func removeImage(t testing.TB, rt *Runtime, ref string) {
	t.Cleanup(func() {
		_, _ = rt.cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}

func TestConformance(t *testing.T) {
	rt := newTestRuntime(t)
	ref := appImage(t, rt)
	labels := func(ctx context.Context, id string) (map[string]string, error) {
		res, err := rt.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		return res.Container.Config.Labels, nil
	}
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return recorder{newTestRuntime(t)} }, runtimetest.Images{App: ref}, labels)
}

func TestContainerConfig(t *testing.T) {
	rt := newTestRuntime(t)
	ref := appImage(t, rt)
	ctx := t.Context()
	runID := testenv.NewRunID("cfg")
	inst, err := rt.Start(ctx, runtime.Spec{Image: ref, RunID: runID, Role: "old", Ports: []int{runtimetest.AppPort, 9090}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop(context.Background()) })
	res, err := rt.cli.ContainerInspect(ctx, inst.ID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Container
	if want := "/plimsoll-" + runID + "-old-"; !strings.HasPrefix(c.Name, want) || len(c.Name) != len(want)+6 {
		t.Errorf("name %q, want %s + 6 hex digits", c.Name, want)
	}
	l := c.Config.Labels
	host, _ := os.Hostname()
	if l[runtime.LabelPID] != strconv.Itoa(os.Getpid()) || l[runtime.LabelHost] != host || l[runtime.LabelRole] != "old" || l[runtime.LabelRun] != runID {
		t.Errorf("labels %v, want pid %d host %s", l, os.Getpid(), host)
	}
	if started, err := time.Parse(time.RFC3339Nano, l[runtime.LabelStarted]); err != nil || time.Since(started) > time.Minute || time.Since(started) < 0 {
		t.Errorf("label %s = %q (%v), want the creation time", runtime.LabelStarted, l[runtime.LabelStarted], err)
	}
	if c.HostConfig.AutoRemove || !c.HostConfig.RestartPolicy.IsNone() {
		t.Errorf("auto-remove %v restart %+v, want neither", c.HostConfig.AutoRemove, c.HostConfig.RestartPolicy)
	}
	if len(c.HostConfig.PortBindings) != 2 {
		t.Errorf("port bindings %v, want 2", c.HostConfig.PortBindings)
	}
	for p, bs := range c.NetworkSettings.Ports {
		for _, b := range bs {
			if !b.HostIP.IsLoopback() {
				t.Errorf("port %s published on %s, want loopback only", p, b.HostIP)
			}
		}
	}
	// Two published ports get two different host ports.
	a, err1 := inst.Endpoint(ctx, runtimetest.AppPort)
	b, err2 := inst.Endpoint(ctx, 9090)
	if err1 != nil || err2 != nil || a == b {
		t.Errorf("endpoints %q %v, %q %v; want two different loopback ports", a, err1, b, err2)
	}
}

func TestNewNoEngine(t *testing.T) {
	sock := "unix://" + t.TempDir() + "/nobody.sock"
	_, err := New(t.Context(), WithHost(sock))
	if !errors.Is(err, runtime.ErrNoEngine) {
		t.Fatalf("New = %v, want ErrNoEngine", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "no Docker engine answers at "+sock+": ") || strings.Contains(msg, "\n") {
		t.Errorf("error %q, want one line starting with %q", msg, "no Docker engine answers at "+sock)
	}
}

// tinyImage is a one-layer image with a random file, so its ID is new to the engine.
func tinyImage(t *testing.T) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(rand.Text())
	if err := tw.WriteHeader(&tar.Header{Name: "random", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(body)
	_ = tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// unreadable is an image whose layers cannot be read: loading it fails, so an Ensure that
// succeeds with it did not load anything.
type unreadable struct{ v1.Image }

func (unreadable) Layers() ([]v1.Layer, error) { return nil, errors.New("layers are unreadable") }

func TestEnsure(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := t.Context()
	img := tinyImage(t)
	cfgName, _ := img.ConfigName()
	tag := "plimsoll-test/ensure:" + randomHex(4)

	if _, err := rt.Ensure(ctx, unreadable{img}, tag); err == nil {
		t.Fatal("Ensure of an image that is not in the engine and cannot be read: no error")
	}
	id, err := rt.Ensure(ctx, img, tag)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	removeImage(t, rt, id)
	if id != cfgName.String() {
		t.Errorf("Ensure = %s, want the image ID %s", id, cfgName)
	}
	res, err := rt.cli.ImageInspect(ctx, tag)
	if err != nil || res.ID != id {
		t.Errorf("inspect %s = %s, %v; want %s", tag, res.ID, err, id)
	}
	again, err := rt.Ensure(ctx, unreadable{img}, "")
	if err != nil || again != id {
		t.Errorf("Ensure of an image already there = %s, %v; want %s without loading", again, err, id)
	}

	// Without a tag the image is loaded untagged.
	untagged := tinyImage(t)
	id2, err := rt.Ensure(ctx, untagged, "")
	if err != nil {
		t.Fatalf("Ensure untagged: %v", err)
	}
	removeImage(t, rt, id2)
	if res, err := rt.cli.ImageInspect(ctx, id2); err != nil || len(res.RepoTags) != 0 {
		t.Errorf("untagged image: tags %v, %v", res.RepoTags, err)
	}
}

func TestStopCancelledContext(t *testing.T) {
	rt := newTestRuntime(t)
	// A grace period long enough that waiting it out cannot pass for a slow engine on a loaded
	// machine.
	rt.grace = time.Minute
	ref := appImage(t, rt)
	inst, err := rt.Start(t.Context(), runtime.Spec{Image: ref, RunID: testenv.NewRunID("cancel"), Role: "new", Entrypoint: []string{"/bin/sleep"}, Cmd: []string{"600"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop(context.Background()) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	t0 := time.Now()
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("Stop with a cancelled context: %v", err)
	}
	if d := time.Since(t0); d >= rt.grace/2 {
		t.Errorf("Stop with a cancelled context took %s, want no grace period (%s)", d, rt.grace)
	}
	if _, err := rt.cli.ContainerInspect(t.Context(), inst.ID(), client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after Stop: %v, want not found", err)
	}
	if st, err := inst.State(t.Context()); err != nil || st.Signal != syscall.SIGKILL {
		t.Errorf("State = %+v, %v; want killed", st, err)
	}
}

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestGC(t *testing.T) {
	rt := newTestRuntime(t)
	ref := appImage(t, rt)
	ctx := t.Context()
	sleeper := func(o owner, runID, role string) runtime.Instance {
		t.Helper()
		r := *rt
		r.owner = o
		inst, err := r.Start(ctx, runtime.Spec{Image: ref, RunID: runID, Role: role, Entrypoint: []string{"/bin/sleep"}, Cmd: []string{"600"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Stop(context.Background()) })
		return inst
	}
	dead := deadPID(t)
	runA, runB := testenv.NewRunID("gca"), testenv.NewRunID("gcb")
	orphan := sleeper(owner{pid: dead, host: rt.owner.host}, runA, "orphan")
	live := sleeper(rt.owner, runA, "live")
	elsewhere := sleeper(owner{pid: dead, host: "another-host.invalid"}, runA, "elsewhere")
	named := sleeper(rt.owner, runB, "named")

	removed, err := rt.GC(ctx, GCOptions{RunIDs: []string{runB}})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	for _, c := range []struct {
		inst runtime.Instance
		gone bool
	}{{orphan, true}, {live, false}, {elsewhere, false}, {named, true}} {
		_, err := rt.cli.ContainerInspect(ctx, c.inst.ID(), client.ContainerInspectOptions{})
		if gone := cerrdefs.IsNotFound(err); gone != c.gone || slices.Contains(removed, c.inst.ID()) != c.gone {
			t.Errorf("container %.12s: removed %v (inspect %v), want %v", c.inst.ID(), gone, err, c.gone)
		}
	}
	// Instances removed behind their back stop quietly and say they are gone.
	if err := orphan.Stop(ctx); err != nil {
		t.Errorf("Stop after GC: %v", err)
	}
	if _, err := named.State(ctx); !errors.Is(err, runtime.ErrRemoved) {
		t.Errorf("State after GC = %v, want ErrRemoved", err)
	}

	// StopRun removes the rest of run A, wherever it runs.
	removed, err = rt.StopRun(ctx, runA)
	if err != nil {
		t.Fatalf("StopRun: %v", err)
	}
	sort.Strings(removed)
	want := []string{live.ID(), elsewhere.ID()}
	sort.Strings(want)
	if !slices.Equal(removed, want) {
		t.Errorf("StopRun removed %v, want %v", removed, want)
	}
}

func BenchmarkStart(b *testing.B) {
	rt := newTestRuntime(b)
	ref := appImage(b, rt)
	runID := testenv.NewRunID("bench")
	var d []time.Duration
	for b.Loop() {
		t0 := time.Now()
		inst, err := rt.Start(b.Context(), runtime.Spec{Image: ref, RunID: runID, Role: "bench", Ports: []int{runtimetest.AppPort}})
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := inst.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms-p50")
}

func BenchmarkStats(b *testing.B) {
	rt := newTestRuntime(b)
	ref := appImage(b, rt)
	inst, err := rt.Start(b.Context(), runtime.Spec{Image: ref, RunID: testenv.NewRunID("bench"), Role: "stats"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = inst.Stop(context.Background()) })
	if _, err := inst.Stats(b.Context()); err != nil { // the first call finds the cgroup
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := inst.Stats(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHungCall: an engine call that gets no answer within the call timeout fails with
// runtime.ErrEngineHung naming the call, and is not taken for the caller's own deadline.
func TestHungCall(t *testing.T) {
	proxy := testenv.HangingEngine(t)
	rt, err := New(t.Context(), WithHost(proxy.Host), WithCallTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	proxy.Hang(func(method, path string) bool { return method == "GET" && path == "/containers/json" })
	_, err = rt.GC(t.Context(), GCOptions{})
	if !errors.Is(err, runtime.ErrEngineHung) || errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "GET /containers/json") || !strings.Contains(err.Error(), "500ms") {
		t.Errorf("GC with the engine hung: %v; want ErrEngineHung naming the call and the timeout, not DeadlineExceeded", err)
	}
}
