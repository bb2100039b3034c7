package smoke_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/smoke"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func testApp(t *testing.T, ref string, opts testenv.TestAppOptions) *image.Image {
	t.Helper()
	return enginetest.Image(t, ref, testenv.TestAppImage(t, opts))
}

// brokenAlpine is Alpine 3.20.3 without libcrypto and libssl (a whiteout layer), running
// /usr/bin/ssl_client, which needs them.
func brokenAlpine(t *testing.T) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"lib/.wh.libcrypto.so.3", "lib/.wh.libssl.so.3"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	wh, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testenv.AlpineImage(t, "3.20.3"), wh)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint, cf.Config.Cmd = []string{"/usr/bin/ssl_client"}, nil
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return testenv.Labelled(t, img)
}

// runLayer runs the layer's checks as the gate does and closes the session.
func runLayer(t *testing.T, rt *docker.Runtime, old, new *image.Image, app config.App, s config.Smoke, tune func(*smoke.Session)) map[string]check.Result {
	t.Helper()
	sess, checks := smoke.NewSession(rt, rt, app, s, testenv.NewRunID("smoke"))
	if tune != nil {
		tune(sess)
	}
	defer func() {
		if err := sess.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	env := &check.Env{Old: old, New: new, Log: slog.New(slog.DiscardHandler)}
	got := map[string]check.Result{}
	for _, c := range checks {
		r, err := c.Run(context.Background(), env)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		got[c.Name()] = r
	}
	return got
}

// want is a check's expected status and words of its message.
type want struct {
	status check.Status
	says   string
}

var (
	pass    = want{status: check.StatusPass}
	skipped = want{status: check.StatusSkipped}
)

func fails(says string) want { return want{check.StatusFail, says} }
func warns(says string) want { return want{check.StatusWarn, says} }

func TestSmoke(t *testing.T) {
	rt := enginetest.Runtime(t)
	mode := func(version, m string, extra ...string) *image.Image {
		return testApp(t, "testapp:"+version+"-"+m, testenv.TestAppOptions{
			Env: append([]string{"TESTAPP_VERSION=" + version, "TESTAPP_MODE=" + m}, extra...)})
	}
	good := mode("1.0", "ok")
	app := config.App{Health: config.Health{HTTP: "/healthz", Timeout: 10 * time.Second, Interval: 100 * time.Millisecond}}
	sm := config.Smoke{
		StayUp:   500 * time.Millisecond,
		Binaries: []string{testenv.TestAppPath},
		Requests: []config.Request{{Path: "/", Expect: `^hello from testapp 1\.`}},
	}
	alpineApp := config.App{Health: config.Health{Timeout: 10 * time.Second}}
	alpineSmoke := config.Smoke{StayUp: 500 * time.Millisecond, Binaries: []string{"/usr/bin/ssl_client"}}
	withShell := testApp(t, "testapp:shell", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1.0"}, Shell: true})
	shellSmoke := sm
	withDeps := sm
	withDeps.Dependencies = []config.Dependency{{Name: "itself", Address: "127.0.0.1:8080"}, {Name: "closed", Address: "127.0.0.1:9"}}
	shellSmoke.Binaries = []string{testenv.TestAppPath, "/bin/sh"}

	for _, tc := range []struct {
		name     string
		old, new *image.Image
		app      config.App
		smoke    config.Smoke
		tune     func(*smoke.Session)
		want     map[string]want
	}{
		{name: "good", old: good, new: mode("1.1", "ok"), app: app, smoke: sm, want: map[string]want{
			"start": pass, "health": pass, "logs": pass, "binaries": pass, "requests": pass,
			"dependencies": {check.StatusSkipped, "no dependencies configured"}}},
		// On the bridge network the dependencies are dialled from inside the app container's network
		// namespace: 127.0.0.1:8080 there is the app itself (nothing listens on it on the host's
		// loopback), and port 9 is closed in both images: pre-existing.
		{name: "dependencies from the app's network", old: good, new: mode("1.1", "ok"), app: app, smoke: withDeps, want: map[string]want{
			"start": pass, "health": pass, "logs": pass, "binaries": pass, "requests": pass,
			"dependencies": warns("pre-existing")}},
		{name: "exits at start", old: good, new: mode("1.1", "exit"), app: app, smoke: sm, want: map[string]want{
			"start":  fails(`regression: exited with code 3 before it was healthy (last output: "testapp: TESTAPP_MODE=exit: exiting with code 3") (OLD: running 500ms after healthy)`),
			"health": fails("regression: never healthy: the container exited with code 3"),
			"logs":   pass, "binaries": pass, "requests": {check.StatusSkipped, "not run on NEW: the app is not running"}, "dependencies": skipped}},
		{name: "health never answers", old: good, new: mode("1.1", "nohealth"), app: app, smoke: sm, want: map[string]want{
			"start":  {check.StatusPass, "running, though never healthy"},
			"health": fails("regression: never healthy: not healthy within 10s: GET /healthz → 200 on 127.0.0.1:"),
			"logs":   pass, "binaries": pass, "requests": pass, "dependencies": skipped}},
		{name: "prints a panic", old: good, new: mode("1.1", "panic-after-start"), app: app, smoke: sm, want: map[string]want{
			"start": pass, "health": pass,
			"logs":     fails(`regression: panic: line 2: "panic: testapp: simulated failure after start" (OLD: none)`),
			"binaries": pass, "requests": pass, "dependencies": skipped}},
		{name: "crashes", old: good, new: mode("1.1", "crash"), app: app, smoke: sm, want: map[string]want{
			"start":    fails(`regression: exited with code 2 before it was healthy (output: "panic: runtime error: invalid memory address or nil pointer dereference")`),
			"health":   fails("regression: never healthy: the container exited with code 2"),
			"logs":     fails(`regression: panic: line 1: "panic: runtime error: invalid memory address or nil pointer dereference" (OLD: none); regression: Segmentation fault: line 2`),
			"binaries": pass, "requests": skipped, "dependencies": skipped}},
		{name: "needs a shared library it lacks, first deployment", new: enginetest.Image(t, "alpine:broken", brokenAlpine(t)), app: alpineApp, smoke: alpineSmoke, want: map[string]want{
			"start":    fails(`exited with code 127 before it was healthy (output: "Error loading shared library libcrypto.so.3: No such file or directory (needed by /usr/bin/ssl_client)")`),
			"health":   fails("never healthy: the container exited with code 127"),
			"logs":     fails(`Error loading shared library: line 1: "Error loading shared library libcrypto.so.3: No such file or directory (needed by /usr/bin/ssl_client)" (and 1 more)`),
			"binaries": pass, "requests": skipped, "dependencies": skipped}},
		{name: "broken on both is pre-existing", old: enginetest.Image(t, "alpine:broken-old", brokenAlpine(t)), new: enginetest.Image(t, "alpine:broken", brokenAlpine(t)), app: alpineApp, smoke: alpineSmoke, want: map[string]want{
			"start":    warns("pre-existing: fails on OLD too: exited with code 127"),
			"health":   warns("pre-existing: fails on OLD too: never healthy: the container exited with code 127"),
			"logs":     warns("pre-existing: fails on OLD too: Error loading shared library: line 1"),
			"binaries": pass, "requests": skipped, "dependencies": skipped}},
		// No probe set, no HEALTHCHECK, no port: all that can be seen is the process still
		// running a second after the start, which a report must not call healthy.
		{name: "no health probe", old: enginetest.Image(t, "alpine:3.20.3-sleep-old", testenv.Labelled(t, testenv.AlpineImage(t, "3.20.3"))),
			new: enginetest.Image(t, "alpine:3.20.3-sleep", testenv.Labelled(t, testenv.AlpineImage(t, "3.20.3"))),
			app: config.App{Cmd: []string{"sleep", "600"}, Health: config.Health{Timeout: 10 * time.Second}}, smoke: config.Smoke{StayUp: 500 * time.Millisecond},
			want: map[string]want{"start": pass, "health": warns("no health probe: only 'still running' verified (the container running for 1s)"),
				"logs": pass, "requests": skipped, "dependencies": skipped}},
		{name: "binary missing", old: withShell, new: mode("1.1", "ok"), app: app, smoke: shellSmoke, want: map[string]want{
			"start": pass, "health": pass, "logs": pass, "requests": pass, "dependencies": skipped,
			"binaries": fails("regression: /bin/sh: missing (OLD: executable (mode 0755) → /bin/busybox)")}},
		{name: "wrong body", old: good, new: mode("2.0", "ok"), app: app, smoke: sm, want: map[string]want{
			"start": pass, "health": pass, "logs": pass, "binaries": pass, "dependencies": skipped,
			"requests": fails(`regression: GET /: status 200, but the body does not match "^hello from testapp 1\\.": "hello from testapp 2.0"`)}},
		{name: "one request times out", old: good, new: mode("1.1", "ok", "TESTAPP_SLOW_US=3000000"), app: app, smoke: sm,
			tune: func(s *smoke.Session) { smoke.SetRequestTimeout(s, time.Second) }, want: map[string]want{
				"start": pass, "health": pass, "logs": pass, "binaries": pass, "dependencies": skipped,
				"requests": warns("one timeout: regression: GET /: no answer within 1s")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runLayer(t, rt, tc.old, tc.new, tc.app, tc.smoke, tc.tune)
			for name, w := range tc.want {
				r := got[name]
				if r.Status != w.status || !strings.Contains(r.Message, w.says) {
					t.Errorf("%s: %v %q\n want %v saying %q", name, r.Status, r.Message, w.status, w.says)
				}
				if r.Status != check.StatusSkipped && r.Threshold == "" {
					t.Errorf("%s: no threshold", name)
				}
			}
			if t.Failed() || testing.Verbose() {
				for name, r := range got {
					t.Logf("%s: %v %q measured %q baseline %q source %q", name, r.Status, r.Message, r.Measured, r.Baseline, r.Source)
				}
			}
		})
	}
}

// TestSmokeHostNetwork runs OLD and NEW on the host's network, the same port for both (so they
// must run one after the other), with a dependency listening on the host's loopback.
func TestSmokeHostNetwork(t *testing.T) {
	rt := enginetest.Runtime(t)
	port := freePort(t)
	dep, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	gone := freePort(t)
	env := []string{"TESTAPP_ADDR=127.0.0.1", "TESTAPP_PORT=" + strconv.Itoa(port)}
	app := config.App{HostNetwork: true, Port: port, Env: env,
		Health: config.Health{HTTP: "/healthz", Timeout: 5 * time.Second, Interval: 100 * time.Millisecond}}
	sm := config.Smoke{StayUp: 300 * time.Millisecond, Binaries: []string{testenv.TestAppPath},
		Requests:     []config.Request{{Path: "/", Expect: "^hello from testapp"}, {Path: "/metrics", Expect: `(?m)^process_resident_memory_bytes \d+$`}},
		Dependencies: []config.Dependency{{Name: "db", Address: dep.Addr().String()}}}
	old := testApp(t, "testapp:1", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1"}})
	new := testApp(t, "testapp:2", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}})

	got := runLayer(t, rt, old, new, app, sm, nil)
	for _, name := range []string{"start", "health", "logs", "binaries", "requests", "dependencies"} {
		if r := got[name]; r.Status != check.StatusPass {
			t.Errorf("%s: %v %q (measured %q)", name, r.Status, r.Message, r.Measured)
		}
	}
	if r := got["requests"]; !strings.Contains(r.Source, "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("requests source %q, want the host port %d", r.Source, port)
	}

	// A dependency that nothing serves is a failure on both: pre-existing.
	sm.Dependencies = append(sm.Dependencies, config.Dependency{Address: "127.0.0.1:" + strconv.Itoa(gone)})
	got = runLayer(t, rt, old, new, app, sm, nil)
	if r := got["dependencies"]; r.Status != check.StatusWarn || !strings.Contains(r.Message, "pre-existing: fails on OLD too: 127.0.0.1:"+strconv.Itoa(gone)+": ") {
		t.Errorf("dependencies: %v %q", r.Status, r.Message)
	}
}

// TestSmokeInterrupted cancels the run while NEW waits for health: the check returns the
// cancellation at once, and Close leaves no container behind.
func TestSmokeInterrupted(t *testing.T) {
	rt := enginetest.Runtime(t)
	runID := testenv.NewRunID("smoke-int")
	hang := testApp(t, "testapp:hang", testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=hang"}})
	sess, checks := smoke.NewSession(rt, rt, config.App{Health: config.Health{HTTP: "/healthz", Timeout: time.Minute}},
		config.Smoke{}, runID)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	began := time.Now()
	_, err := checks[0].Run(ctx, &check.Env{New: hang, Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("start check = %v, want context.Canceled", err)
	}
	if d := time.Since(began); d > 30*time.Second { // half the health timeout: the cancel, not the timeout, ended it
		t.Errorf("the check took %v to return after a cancel at 1.5 s", d)
	}
	if err := sess.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	res, err := testenv.Docker(t).ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", runtime.LabelRun+"="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 {
		t.Errorf("%d containers left after the interrupted run", len(res.Items))
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
