package launch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var _ launch.Loader = (*docker.Runtime)(nil)

// imageOf wraps a built image as the image package resolves one.

func testApp(t *testing.T, opts testenv.TestAppOptions) *image.Image {
	t.Helper()
	return enginetest.Image(t, "testapp", testenv.TestAppImage(t, opts))
}

// start starts app from img and stops it when the test ends.
func start(t *testing.T, rt *docker.Runtime, img *image.Image, app config.App, opts launch.Options) *launch.App {
	t.Helper()
	if opts.RunID == "" {
		opts.RunID = testenv.NewRunID("launch")
	}
	if opts.Role == "" {
		opts.Role = "test"
	}
	a, err := launch.Start(context.Background(), rt, rt, img, app, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Instance.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return a
}

var probe = &v1.HealthConfig{Test: []string{"CMD", testenv.TestAppPath, "probe"}, Interval: 30 * time.Second}

func TestWaitHealthyPasses(t *testing.T) {
	rt := enginetest.Runtime(t)
	withHC := testApp(t, testenv.TestAppOptions{Healthcheck: probe})
	plain := testApp(t, testenv.TestAppOptions{})
	for _, tc := range []struct {
		name   string
		img    *image.Image
		health config.Health
		desc   string
	}{
		{"http", plain, config.Health{HTTP: "/healthz"}, "GET /healthz → 200 on 127.0.0.1:"},
		{"tcp", plain, config.Health{TCP: true}, "TCP connect to 127.0.0.1:"},
		{"exec", plain, config.Health{Exec: []string{testenv.TestAppPath, "probe"}}, `exec ["/usr/local/bin/testapp" "probe"] exits 0`},
		// The image's HEALTHCHECK runs every 30 s: the engine would first call it healthy
		// after 30 s, so this passing within 10 s shows WaitHealthy runs it itself.
		{"image", withHC, config.Health{Image: true}, "the image's HEALTHCHECK"},
		{"default is the image's HEALTHCHECK", withHC, config.Health{}, "the image's HEALTHCHECK"},
		{"default without one is TCP", plain, config.Health{}, "TCP connect to 127.0.0.1:"},
		{"all of several", withHC, config.Health{HTTP: "/", TCP: true, Image: true}, "GET / → 200 on 127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, rt, tc.img, config.App{}, launch.Options{})
			if a.Port != 8080 || !strings.HasPrefix(a.Endpoint, "127.0.0.1:") {
				t.Errorf("port %d endpoint %q, want the image's 8080 published on 127.0.0.1", a.Port, a.Endpoint)
			}
			tc.health.Timeout = 10 * time.Second
			took, err := a.WaitHealthy(context.Background(), tc.health)
			if err != nil {
				t.Fatalf("WaitHealthy: %v", err)
			}
			if took <= 0 || took > 10*time.Second {
				t.Errorf("healthy after %v", took)
			}
			if d := a.DescribeHealth(tc.health); !strings.Contains(d, tc.desc) {
				t.Errorf("DescribeHealth = %q, want %q in it", d, tc.desc)
			}
		})
	}
}

// TestWaitHealthyRunning: with no port and no HEALTHCHECK, healthy is running for a second.
func TestWaitHealthyRunning(t *testing.T) {
	rt := enginetest.Runtime(t)
	alpine := enginetest.Image(t, "alpine:3.20.3", testenv.Labelled(t, testenv.AlpineImage(t, "3.20.3")))
	a := start(t, rt, alpine, config.App{Cmd: []string{"sleep", "600"}}, launch.Options{})
	if a.Port != 0 || a.Endpoint != "" {
		t.Errorf("port %d endpoint %q for an image that exposes none", a.Port, a.Endpoint)
	}
	took, err := a.WaitHealthy(context.Background(), config.Health{Timeout: 10 * time.Second})
	if err != nil || took < time.Second {
		t.Errorf("WaitHealthy = %v, %v; want healthy after a second of running", took, err)
	}
	a = start(t, rt, alpine, config.App{Cmd: []string{"sh", "-c", "echo bye; exit 4"}}, launch.Options{})
	_, err = a.WaitHealthy(context.Background(), config.Health{Timeout: 10 * time.Second})
	var ee *launch.ExitError
	if !errors.As(err, &ee) || ee.State.ExitCode != 4 {
		t.Errorf("WaitHealthy on a process that exits at once = %v, want its exit", err)
	}
}

func TestWaitHealthyFails(t *testing.T) {
	rt := enginetest.Runtime(t)
	mode := func(m string) *image.Image {
		return testApp(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=" + m}})
	}
	for _, tc := range []struct {
		name   string
		img    *image.Image
		health config.Health
		code   int // an *ExitError with this code; else errIs
		errIs  error
		errHas string
	}{
		{name: "exits at once", img: mode("exit"), health: config.Health{HTTP: "/healthz"}, code: 3},
		{name: "crashes", img: mode("crash"), code: 2},
		{name: "health answers 503", img: mode("nohealth"), health: config.Health{HTTP: "/healthz"}, errIs: launch.ErrNotHealthy, errHas: "status 503, want 200"},
		// The published port accepts through the engine's proxy; nothing listens behind it.
		{name: "never listens", img: mode("hang"), health: config.Health{TCP: true}, errIs: launch.ErrNotHealthy, errHas: "closed at once"},
		{name: "never answers HTTP", img: mode("hang"), health: config.Health{HTTP: "/healthz"}, errIs: launch.ErrNotHealthy, errHas: "GET /healthz"},
		{name: "no HEALTHCHECK to wait for", img: mode("ok"), health: config.Health{Image: true}, errIs: launch.ErrNoHealthcheck},
		{name: "HEALTHCHECK fails", img: enginetest.Image(t, "hc", testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=nohealth"}, Healthcheck: probe})),
			errIs: launch.ErrNotHealthy, errHas: "exit code 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, rt, tc.img, config.App{}, launch.Options{})
			// The bounds below are far from what a loaded machine needs and far below what a
			// missed exit or an ignored timeout would take: they tell a bug from load.
			tc.health.Timeout = 3 * time.Second
			if tc.errIs == nil {
				tc.health.Timeout = time.Minute
			}
			began := time.Now()
			_, err := a.WaitHealthy(context.Background(), tc.health)
			if tc.errIs == nil {
				var ee *launch.ExitError
				if !errors.As(err, &ee) || ee.State.ExitCode != tc.code {
					t.Fatalf("WaitHealthy = %v, want an exit with code %d", err, tc.code)
				}
				if want := fmt.Sprintf("the container exited with code %d", tc.code); err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
				if time.Since(began) > tc.health.Timeout/2 {
					t.Errorf("an exit took %v to notice, with a health timeout of %v", time.Since(began), tc.health.Timeout)
				}
				return
			}
			if !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("WaitHealthy = %v, want %v saying %q", err, tc.errIs, tc.errHas)
			}
			if errors.Is(err, launch.ErrNotHealthy) && time.Since(began) > tc.health.Timeout+20*time.Second {
				t.Errorf("a 3 s timeout took %v", time.Since(began))
			}
		})
	}
}

func TestStartFailed(t *testing.T) {
	rt := enginetest.Runtime(t)
	_, err := launch.Start(context.Background(), rt, rt, testApp(t, testenv.TestAppOptions{}),
		config.App{Entrypoint: []string{"/no/such/binary"}}, launch.Options{RunID: testenv.NewRunID("launch"), Role: "test"})
	if !errors.Is(err, runtime.ErrStartFailed) {
		t.Fatalf("Start = %v, want ErrStartFailed", err)
	}
}

func TestHostNetworkAndLimits(t *testing.T) {
	rt := enginetest.Runtime(t)
	port := freePort(t)
	app := config.App{HostNetwork: true, Port: port, CPUs: 0.5, Memory: "64m",
		Env: []string{"TESTAPP_ADDR=127.0.0.1", "TESTAPP_PORT=" + strconv.Itoa(port)}}
	a := start(t, rt, testApp(t, testenv.TestAppOptions{}), app, launch.Options{})
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(port)); a.Endpoint != want {
		t.Errorf("endpoint %q, want %q", a.Endpoint, want)
	}
	if _, err := a.WaitHealthy(context.Background(), config.Health{HTTP: "/", Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	res, err := testenv.Docker(t).ContainerInspect(context.Background(), a.Instance.ID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hc := res.Container.HostConfig; hc.Memory != 64<<20 || hc.NanoCPUs != 5e8 || hc.NetworkMode != "host" {
		t.Errorf("memory %d cpus %d network %s, want 64 MiB, 0.5 CPU, host", hc.Memory, hc.NanoCPUs, hc.NetworkMode)
	}
}

func TestReadOnlyRoot(t *testing.T) {
	rt := enginetest.Runtime(t)
	img := testApp(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=writeroot"}})
	health := config.Health{HTTP: "/healthz", Timeout: 10 * time.Second}

	a := start(t, rt, img, config.App{}, launch.Options{RootFS: &launch.RootFS{ReadOnly: true}})
	_, err := a.WaitHealthy(context.Background(), health)
	var ee *launch.ExitError
	if !errors.As(err, &ee) || ee.State.ExitCode != 1 {
		t.Fatalf("WaitHealthy on a read-only root = %v, want exit code 1", err)
	}
	logs, err := a.Logs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last := launch.LastLines(logs, 1); len(last) != 1 || !strings.Contains(last[0], "read-only file system") {
		t.Errorf("last log line %q, want the app saying the file system is read-only", last)
	}

	// The same app with a tmpfs where it writes, and the policy's own read-only setting.
	app := config.App{ReadOnlyRoot: true, Tmpfs: []string{testenv.TestAppStateDir}}
	for _, opts := range []launch.Options{{}, {RootFS: &launch.RootFS{ReadOnly: true, Tmpfs: []string{testenv.TestAppStateDir}}}} {
		a = start(t, rt, img, app, opts)
		if _, err := a.WaitHealthy(context.Background(), health); err != nil {
			logs, _ := a.Logs(context.Background())
			t.Fatalf("with a tmpfs at %s (%+v): %v\n%s", testenv.TestAppStateDir, opts.RootFS, err, logs)
		}
	}
	// A read-write root overriding the policy's read-only one.
	a = start(t, rt, img, config.App{ReadOnlyRoot: true}, launch.Options{RootFS: &launch.RootFS{}})
	if _, err := a.WaitHealthy(context.Background(), health); err != nil {
		t.Fatalf("with a writable root: %v", err)
	}
}

// TestInterruptedWait cancels the run while it waits for health: WaitHealthy returns at once
// and a Stop with the cancelled context still removes the container.
func TestInterruptedWait(t *testing.T) {
	rt := enginetest.Runtime(t)
	runID := testenv.NewRunID("launch-int")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := launch.Start(ctx, rt, rt, testApp(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=hang"}}),
		config.App{}, launch.Options{RunID: runID, Role: "test"})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, cancel)
	began := time.Now()
	_, err = a.WaitHealthy(ctx, config.Health{HTTP: "/healthz", Timeout: 30 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WaitHealthy = %v, want context.Canceled", err)
	}
	if d := time.Since(began); d > 15*time.Second { // half the health timeout: the cancel, not the timeout, ended it
		t.Errorf("WaitHealthy returned %v after the start, 1 s after the cancel", d)
	}
	if err := a.Instance.Stop(ctx); err != nil {
		t.Fatalf("Stop with a cancelled context: %v", err)
	}
	res, err := testenv.Docker(t).ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", runtime.LabelRun+"="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 {
		t.Errorf("%d containers of the interrupted run are left", len(res.Items))
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

// TestPortEnv: on the host network, two instances of one app run at once, each on a free port
// given through app.portEnv; without it, Together says they cannot.
func TestPortEnv(t *testing.T) {
	rt := enginetest.Runtime(t)
	img := testApp(t, testenv.TestAppOptions{})
	app := config.App{HostNetwork: true, Port: 8080, Env: []string{"TESTAPP_ADDR=127.0.0.1"}}
	if err := launch.Together(app); !errors.Is(err, launch.ErrSharedPort) {
		t.Errorf("Together without portEnv = %v, want ErrSharedPort", err)
	}
	app.PortEnv = "TESTAPP_PORT"
	if err := launch.Together(app); err != nil {
		t.Errorf("Together with portEnv: %v", err)
	}
	runID := testenv.NewRunID("portenv")
	a := start(t, rt, img, app, launch.Options{RunID: runID, Role: "old"})
	b := start(t, rt, img, app, launch.Options{RunID: runID, Role: "new"})
	if a.Port == b.Port || a.Port == 8080 || a.Endpoint != net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)) {
		t.Errorf("ports %d and %d, endpoints %s and %s: want two free ports other than app.port, on 127.0.0.1", a.Port, b.Port, a.Endpoint, b.Endpoint)
	}
	for _, x := range []*launch.App{a, b} {
		if _, err := x.WaitHealthy(t.Context(), config.Health{HTTP: "/healthz", Timeout: 20 * time.Second}); err != nil {
			t.Errorf("%s: %v", x.Endpoint, err)
		}
	}
	if len(app.Env) != 1 {
		t.Errorf("app.Env changed under Start: %v", app.Env)
	}
}
