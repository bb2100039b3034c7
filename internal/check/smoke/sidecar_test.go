package smoke_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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

// sidecarImage loads a test app image listening on 127.0.0.1:port with extra env into the
// engine under a tag of its own, removed when the test ends, and returns the tag.
func sidecarImage(t *testing.T, tag string, port int, env ...string) string {
	t.Helper()
	tag = "plimsoll-test/sidecar:" + tag + "-" + strconv.Itoa(port)
	img := testenv.TestAppImage(t, testenv.TestAppOptions{
		Env: append([]string{"TESTAPP_ADDR=127.0.0.1", "TESTAPP_PORT=" + strconv.Itoa(port)}, env...)})
	testenv.LoadIntoDaemon(t, img, tag)
	return tag
}

// runContainers lists the containers of a run, by role: their state, and the PID of the
// process that started them, which GC reaps them by once that process is gone.
func runContainers(t *testing.T, runID string) map[string]string {
	t.Helper()
	res, err := testenv.Docker(t).ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", runtime.LabelRun+"="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range res.Items {
		out[c.Labels[runtime.LabelRole]] = string(c.State) + " pid=" + c.Labels[runtime.LabelPID]
	}
	return out
}

// sidecarRun is one run of the layer: each check's result or error, and the run's containers
// after the first check (while the sidecars run) and after Close.
type sidecarRun struct {
	results            map[string]check.Result
	errs               map[string]error
	during, afterClose map[string]string
}

func runWithSidecars(t *testing.T, rt *docker.Runtime, old, new *image.Image, app config.App, sm config.Smoke) sidecarRun {
	t.Helper()
	runID := testenv.NewRunID("smoke-sidecar")
	sess, checks := smoke.NewSession(rt, rt, app, sm, runID)
	env := &check.Env{Old: old, New: new, Log: slog.New(slog.DiscardHandler)}
	r := sidecarRun{results: map[string]check.Result{}, errs: map[string]error{}}
	for i, c := range checks {
		res, err := c.Run(context.Background(), env)
		if err != nil {
			r.errs[c.Name()] = err
		}
		r.results[c.Name()] = res
		if i == 0 {
			r.during = runContainers(t, runID)
		}
	}
	if err := sess.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	r.afterClose = runContainers(t, runID)
	return r
}

func hostApp(port int) config.App {
	return config.App{HostNetwork: true, Port: port, Env: []string{"TESTAPP_ADDR=127.0.0.1", "TESTAPP_PORT=" + strconv.Itoa(port)},
		Health: config.Health{HTTP: "/healthz", Timeout: 5 * time.Second, Interval: 100 * time.Millisecond}}
}

// TestSmokeSidecar runs OLD and NEW on the host's network with a sidecar (a test app
// listening on another loopback port): it is started once, before the apps, reached by both,
// and removed by Close.
func TestSmokeSidecar(t *testing.T) {
	rt := enginetest.Runtime(t)
	appPort, dbPort := freePort(t), freePort(t)
	tag := sidecarImage(t, "ok", dbPort)
	sm := config.Smoke{StayUp: 200 * time.Millisecond, Requests: []config.Request{{Path: "/"}},
		Dependencies: []config.Dependency{{Name: "db", Sidecar: config.Sidecar{Image: tag, Port: dbPort, Ready: 10 * time.Second}}}}
	old := testApp(t, "testapp:1", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1"}})
	new := testApp(t, "testapp:2", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}})

	got := runWithSidecars(t, rt, old, new, hostApp(appPort), sm)
	for _, name := range []string{"start", "health", "requests", "dependencies"} {
		if r, err := got.results[name], got.errs[name]; err != nil || r.Status != check.StatusPass {
			t.Errorf("%s: %v %q (measured %q) err %v", name, r.Status, r.Message, r.Measured, err)
		}
	}
	dep := got.results["dependencies"]
	if dep.Message != "all 1 reachable" || dep.Measured != "1/1 reachable" || dep.Baseline != "1/1 reachable" {
		t.Errorf("dependencies: %q measured %q baseline %q", dep.Message, dep.Measured, dep.Baseline)
	}
	if want := "db (127.0.0.1:" + strconv.Itoa(dbPort) + ")"; len(dep.Tables) != 1 || dep.Tables[0].Rows[0][0] != want {
		t.Errorf("dependencies table %+v, want the row %q", dep.Tables, want)
	}
	if !strings.Contains(dep.Threshold, "1 sidecar started once") {
		t.Errorf("threshold %q", dep.Threshold)
	}
	// After the first check both apps have come and gone; only the sidecar still runs.
	if want := "running pid=" + strconv.Itoa(os.Getpid()); len(got.during) != 1 || got.during["smoke-sidecar-0"] != want {
		t.Errorf("containers of the run after the first check: %v, want only smoke-sidecar-0 %s", got.during, want)
	}
	if len(got.afterClose) != 0 {
		t.Errorf("containers left after Close: %v", got.afterClose)
	}
}

// TestSmokeSidecarFails: sidecars that exit at once, never listen, are not in the engine, or
// find their port taken are no fault of the app: the dependency fails on both images alike
// (pre-existing, CAUTION), saying which sidecar and why; on a first deployment the check
// cannot tell (ErrSidecar). No container is left behind, even before Close.
func TestSmokeSidecarFails(t *testing.T) {
	rt := enginetest.Runtime(t)
	appPort, exitPort, hangPort := freePort(t), freePort(t), freePort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	exitTag := sidecarImage(t, "exit", exitPort, "TESTAPP_MODE=exit")
	hangTag := sidecarImage(t, "hang", hangPort, "TESTAPP_MODE=hang")
	sm := config.Smoke{StayUp: 200 * time.Millisecond, Dependencies: []config.Dependency{
		{Name: "db", Sidecar: config.Sidecar{Image: exitTag, Port: exitPort}},
		{Name: "cache", Sidecar: config.Sidecar{Image: hangTag, Port: hangPort, Ready: time.Second}},
		{Sidecar: config.Sidecar{Image: "plimsoll-test/absent:nope", Port: freePort(t)}},
		{Name: "queue", Sidecar: config.Sidecar{Image: exitTag, Port: takenPort}},
	}}
	wantFaults := []string{
		"db (127.0.0.1:" + strconv.Itoa(exitPort) + "): sidecar db (" + exitTag + "): exited with code 3 before 127.0.0.1:" + strconv.Itoa(exitPort) +
			` accepted a connection (last output: "testapp: TESTAPP_MODE=exit: exiting with code 3")`,
		"sidecar cache (" + hangTag + "): 127.0.0.1:" + strconv.Itoa(hangPort) + " accepted no connection within 1s",
		"sidecar plimsoll-test/absent:nope: image not found in the container engine: plimsoll never pulls a sidecar's image: pull or load it first",
		"sidecar queue (" + exitTag + "): 127.0.0.1:" + strconv.Itoa(takenPort) + " already accepts connections before the sidecar starts",
	}
	old := testApp(t, "testapp:1", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=1"}})
	new := testApp(t, "testapp:2", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}})

	got := runWithSidecars(t, rt, old, new, hostApp(appPort), sm)
	for _, name := range []string{"start", "health"} {
		if r, err := got.results[name], got.errs[name]; err != nil || r.Status != check.StatusPass {
			t.Errorf("%s: %v %q err %v: the app is not to blame", name, r.Status, r.Message, err)
		}
	}
	dep, err := got.results["dependencies"], got.errs["dependencies"]
	if err != nil || dep.Status != check.StatusWarn || !strings.HasPrefix(dep.Message, "pre-existing: fails on OLD too: ") {
		t.Errorf("dependencies: %v %q err %v, want pre-existing CAUTION", dep.Status, dep.Message, err)
	}
	t.Logf("dependencies: %s", dep.Message)
	for _, w := range wantFaults {
		if !strings.Contains(dep.Message, w) {
			t.Errorf("dependencies message lacks %q:\n%s", w, dep.Message)
		}
	}
	if len(got.during) != 0 || len(got.afterClose) != 0 {
		t.Errorf("containers of the run: %v after the first check, %v after Close; want none", got.during, got.afterClose)
	}

	// A first deployment: nothing to compare with, so the check cannot tell.
	sm.Dependencies = sm.Dependencies[:1]
	got = runWithSidecars(t, rt, nil, new, hostApp(appPort), sm)
	t.Logf("first deployment: %v", got.errs["dependencies"])
	if err := got.errs["dependencies"]; !errors.Is(err, smoke.ErrSidecar) || !strings.Contains(err.Error(), "sidecar db ("+exitTag+"): exited with code 3") {
		t.Errorf("first deployment: dependencies err %v, want ErrSidecar naming the sidecar", err)
	}
	if r := got.results["start"]; r.Status != check.StatusPass {
		t.Errorf("first deployment: start %v %q", r.Status, r.Message)
	}
	if len(got.afterClose) != 0 {
		t.Errorf("containers left after Close: %v", got.afterClose)
	}
}
