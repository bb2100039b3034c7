package functional_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/functional"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

func TestMain(m *testing.M) {
	code := testenv.Run(m)
	if suiteBinaries.dir != "" {
		os.RemoveAll(suiteBinaries.dir)
	}
	os.Exit(code)
}

// suiteBinaries are the fileprobe test binary and test2json, built once per test process.
var suiteBinaries struct {
	once           sync.Once
	probe, t2j     string
	dir            string
	err            error
	probeBody, t2b []byte
}

// binaries builds test/suites/fileprobe with `go test -c -tags fileprobe` and cmd/test2json,
// both static, and returns their paths.
func binaries(t *testing.T) (probe, test2json string) {
	t.Helper()
	s := &suiteBinaries
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "plimsoll-functional-")
		if s.err != nil {
			return
		}
		_, file, _, _ := goruntime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "suites", "fileprobe")
		s.probe, s.t2j = filepath.Join(s.dir, "fileprobe.test"), filepath.Join(s.dir, "test2json")
		for _, args := range [][]string{
			{"test", "-c", "-tags", "fileprobe", "-trimpath", "-o", s.probe, "."},
			{"build", "-trimpath", "-o", s.t2j, "cmd/test2json"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			if out, err := cmd.CombinedOutput(); err != nil {
				s.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
		if s.probeBody, s.err = os.ReadFile(s.probe); s.err == nil {
			s.t2b, s.err = os.ReadFile(s.t2j)
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.probe, s.t2j
}

// tapSuite is a TAP test suite in busybox sh: it writes its report to /tmp/results.tap.
const tapSuite = `#!/bin/sh
n=0
fails=0
probe() {
	n=$((n+1))
	if sh -c "$2" >/dev/null 2>&1; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails+1)); fi
}
{
	echo "TAP version 13"
	probe "musl loader" "test -f /lib/ld-musl-x86_64.so.1"
	probe "libcrypto" "test -f /lib/libcrypto.so.3"
	probe "CA bundle" "test -s /etc/ssl/certs/ca-certificates.crt"
	probe "udhcpd config" "grep -q '^start' /etc/udhcpd.conf"
	echo "1..$n"
} > /tmp/results.tap
echo "$fails of $n failed"
[ "$fails" -eq 0 ]
`

// suiteImage is the Alpine minirootfs of version with the suites in /suite: fileprobe.test,
// test2json and the TAP shell suite probe.sh.
func suiteImage(t *testing.T, version string) v1.Image {
	t.Helper()
	binaries(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"suite/", nil},
		{"suite/fileprobe.test", suiteBinaries.probeBody},
		{"suite/test2json", suiteBinaries.t2b},
		{"suite/probe.sh", []byte(tapSuite)},
	} {
		h := &tar.Header{Name: f.name, Mode: 0o755, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testenv.AlpineImage(t, version), layer)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Labelled(t, img)
}

// goSuite runs fileprobe through test2json, as go test -json does: no shell needed.
var goSuite = []string{"/suite/test2json", "-t", "-p", "fileprobe", "/suite/fileprobe.test", "-test.v=test2json"}

func env(old, new *image.Image) *check.Env {
	return &check.Env{Old: old, New: new, Log: slog.New(slog.DiscardHandler)}
}

// runSuite runs the layer's single check and asserts the run left no container behind.
func runSuite(t *testing.T, app config.App, f config.Functional, e *check.Env) (check.Result, error) {
	t.Helper()
	rt := enginetest.Runtime(t)
	runID := testenv.NewRunID("functional")
	checks := functional.New(rt, rt, app, f, runID)
	if len(checks) != 1 || checks[0].Name() != functional.CheckSuite {
		t.Fatalf("checks: %v", checks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := checks[0].Run(ctx, e)
	assertNothingLeft(t, runID)
	return res, err
}

func assertNothingLeft(t *testing.T, runID string) {
	t.Helper()
	c := testenv.Docker(t)
	list, err := c.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", "plimsoll.run="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) > 0 {
		t.Errorf("%d containers of run %s left behind", len(list.Items), runID)
	}
}

func data(t *testing.T, res check.Result) functional.Data {
	t.Helper()
	d, ok := res.Data.(functional.Data)
	if !ok {
		t.Fatalf("Data is %T", res.Data)
	}
	return d
}

// TestAlpineUpgradeGoSuite: Alpine 3.20 no longer ships /etc/udhcpd.conf; the Go suite built
// into both images passes on 3.19.4 and fails TestUdhcpdConfig on 3.20.3.
func TestAlpineUpgradeGoSuite(t *testing.T) {
	old := enginetest.Image(t, "alpine:3.19.4+suite", suiteImage(t, "3.19.4"))
	new := enginetest.Image(t, "alpine:3.20.3+suite", suiteImage(t, "3.20.3"))
	f := config.Functional{Command: goSuite, Env: []string{"GOTRACEBACK=all"}}
	res, err := runSuite(t, config.App{}, f, env(old, new))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s | measured %s | baseline %s | %s", res.Status, res.Message, res.Measured, res.Baseline, res.Source)
	// 6 of 7 tests ran (TestApp skips without APP_URL), 5 passed: 83 % < 95 % → NO-GO.
	if res.Status != check.StatusFail {
		t.Errorf("status %s, want fail", res.Status)
	}
	if !strings.Contains(res.Message, "1 regression: fileprobe/TestUdhcpdConfig") {
		t.Errorf("message %q does not name the regression", res.Message)
	}
	if res.Measured != "NEW 83.3 % (5/6 passed)" || res.Baseline != "OLD 100 % (6/6 passed)" {
		t.Errorf("measured %q, baseline %q", res.Measured, res.Baseline)
	}
	if !strings.Contains(res.Source, "gotest-json report from stdout") {
		t.Errorf("source %q", res.Source)
	}
	d := data(t, res)
	if d.Delta.Counts[testreport.Regression] != 1 || d.New.Totals.Skipped != 1 || d.Old.Totals.Passed != 6 {
		t.Errorf("delta %v, new totals %+v, old totals %+v", d.Delta.Counts, d.New.Totals, d.Old.Totals)
	}
	if len(res.Tables) == 0 || res.Tables[0].Rows[0][0] != "fileprobe/TestUdhcpdConfig" ||
		!strings.Contains(res.Tables[0].Rows[0][3], "udhcpd.conf") {
		t.Errorf("tables %+v", res.Tables)
	}

	// The same failure, quarantined as a known one, no longer counts.
	f.Quarantine = []string{"*/TestUdhcp*"}
	res, err = runSuite(t, config.App{}, f, env(old, new))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != check.StatusPass || !strings.Contains(res.Message, "1 quarantined") {
		t.Errorf("quarantined: %s %q", res.Status, res.Message)
	}
}

// TestIdenticalGO: the same suite on the same image passes, OLD and NEW alike.
func TestIdenticalGO(t *testing.T) {
	img := suiteImage(t, "3.20.3")
	res, err := runSuite(t, config.App{}, config.Functional{Command: goSuite, Reruns: 2},
		env(enginetest.Image(t, "old", img), enginetest.Image(t, "new", img)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", res.Status, res.Message)
	// TestUdhcpdConfig fails on both: pre-existing, 5/6 passing → still NO-GO by rate, but no regression.
	d := data(t, res)
	if d.Delta.Counts[testreport.PreExisting] != 1 || d.Delta.Counts[testreport.Regression] != 0 {
		t.Errorf("counts %v", d.Delta.Counts)
	}
	if !strings.Contains(res.Message, "1 pre-existing: fail on OLD too") || strings.Contains(res.Message, "regression") {
		t.Errorf("message %q", res.Message)
	}
	// Two reruns on each side: the broken test ran three times, and is not flaky.
	for _, c := range d.New.Cases {
		if c.Name == "TestUdhcpdConfig" && (c.Attempts != 3 || c.Flaky) {
			t.Errorf("TestUdhcpdConfig: %d attempts, flaky %v; want 3 runs, not flaky", c.Attempts, c.Flaky)
		}
	}

	old := suiteImage(t, "3.19.4")
	res, err = runSuite(t, config.App{}, config.Functional{Command: goSuite}, env(enginetest.Image(t, "old", old), enginetest.Image(t, "new", old)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != check.StatusPass || res.Measured != "NEW 100 % (6/6 passed)" {
		t.Errorf("identical passing suites: %s %q %q", res.Status, res.Message, res.Measured)
	}
}

// TestTAPResultsFile: the busybox TAP suite writes its report into the container; it is
// copied out after the suite exits.
func TestTAPResultsFile(t *testing.T) {
	old := enginetest.Image(t, "alpine:3.19.4+suite", suiteImage(t, "3.19.4"))
	new := enginetest.Image(t, "alpine:3.20.3+suite", suiteImage(t, "3.20.3"))
	f := config.Functional{Command: []string{"/bin/sh", "/suite/probe.sh"}, ResultsFile: "/tmp/results.tap", Format: "tap"}
	res, err := runSuite(t, config.App{}, f, env(old, new))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s | %s", res.Status, res.Message, res.Source)
	if res.Status != check.StatusFail || !strings.Contains(res.Message, "1 regression: udhcpd config") {
		t.Errorf("%s %q", res.Status, res.Message)
	}
	if !strings.Contains(res.Source, "tap report from /tmp/results.tap") {
		t.Errorf("source %q", res.Source)
	}

	// First deployment: NEW alone, its failure still counts.
	res, err = runSuite(t, config.App{}, f, env(nil, new))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != check.StatusFail || !strings.Contains(res.Message, "1 failing: udhcpd config") || res.Baseline != "" {
		t.Errorf("first deployment: %s %q baseline %q", res.Status, res.Message, res.Baseline)
	}

	// A report file the suite never wrote is an error, never a pass.
	f.ResultsFile = "/tmp/nothing.tap"
	if _, err := runSuite(t, config.App{}, f, env(old, new)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing report: %v", err)
	}
}

// TestUnreadableReport: plain `go test -v` text is no report format: ERROR, never a pass.
func TestUnreadableReport(t *testing.T) {
	img := enginetest.Image(t, "suite", suiteImage(t, "3.19.4"))
	f := config.Functional{Command: []string{"/suite/fileprobe.test", "-test.v"}}
	_, err := runSuite(t, config.App{}, f, env(img, img))
	if !errors.Is(err, testreport.ErrUnknownFormat) || !strings.HasPrefix(err.Error(), "OLD: ") {
		t.Errorf("err %v, want an unknown format on OLD", err)
	}
	// A suite cut short: the report says it passed, the exit code says otherwise.
	f = config.Functional{Command: []string{"/bin/sh", "-c", "/suite/probe.sh >/dev/null; sed -i '/udhcpd/d; s/1..4/1..3/' /tmp/results.tap; exit 3"},
		ResultsFile: "/tmp/results.tap"}
	_, err = runSuite(t, config.App{}, f, env(nil, enginetest.Image(t, "new", suiteImage(t, "3.20.3"))))
	if err == nil || !strings.Contains(err.Error(), "exited with code 3 but its report shows no failure") {
		t.Errorf("err %v", err)
	}
}

// TestTimeout: a suite still running after the timeout is an error, and its container goes.
func TestTimeout(t *testing.T) {
	img := enginetest.Image(t, "suite", suiteImage(t, "3.19.4"))
	start := time.Now()
	_, err := runSuite(t, config.App{}, config.Functional{Command: []string{"/bin/sleep", "60"}, Timeout: time.Second}, env(nil, img))
	if !errors.Is(err, functional.ErrTimeout) {
		t.Errorf("err %v, want a timeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestCancel: a run cancelled while the suite runs stops its container.
func TestCancel(t *testing.T) {
	rt := enginetest.Runtime(t)
	runID := testenv.NewRunID("functional")
	img := enginetest.Image(t, "suite", suiteImage(t, "3.19.4"))
	c := functional.New(rt, rt, config.App{}, config.Functional{Command: []string{"/bin/sleep", "60"}}, runID)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Run(ctx, env(img, img)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
	assertNothingLeft(t, runID)
}

// TestNotConfigured: without a suite the check is skipped, saying what to set.
func TestNotConfigured(t *testing.T) {
	c := functional.New(nil, nil, config.App{}, config.Functional{}, "run")[0]
	res, err := c.Run(context.Background(), env(nil, &image.Image{Ref: "new"}))
	if err != nil || res.Status != check.StatusSkipped || res.Message != "no test suite configured (functional.command)" ||
		res.Layer != check.L3Functional || res.Check != "suite" {
		t.Errorf("%+v %v", res, err)
	}
}

// TestRunnerHost: a runner on the host, against the test app on 127.0.0.1.
func TestRunnerHost(t *testing.T) {
	probe, t2j := binaries(t)
	app := enginetest.Image(t, "testapp", testenv.TestAppImage(t, testenv.TestAppOptions{}))
	report := filepath.Join(t.TempDir(), "report.json")
	runner := config.Functional{
		Runner: config.FunctionalRunner{Command: []string{"/bin/sh", "-c",
			t2j + " -p app " + probe + " -test.v=test2json -test.run=^TestApp$ > " + report +
				// The network rule: the app is reached on 127.0.0.1 only.
				`; [ "$APP_HOST" = 127.0.0.1 ] && [ "$APP_URL" = "http://127.0.0.1:$APP_PORT" ] || exit 9`}},
		ResultsFile: report,
	}
	res, err := runSuite(t, config.App{Health: config.Health{HTTP: "/healthz", Timeout: 30 * time.Second}}, runner, env(app, app))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s | %s", res.Status, res.Message, res.Source)
	if res.Status != check.StatusPass || res.Measured != "NEW 100 % (1/1 passed)" {
		t.Errorf("%s %q %q", res.Status, res.Message, res.Measured)
	}
	if d := data(t, res); d.New.Cases[0].ID != "app/TestApp" {
		t.Errorf("cases %+v", d.New.Cases)
	}
}

// TestRunnerImage: a runner image on the host's network reaches the app through 127.0.0.1;
// NEW's app answers / too slowly for the runner's 5 s client: a regression of TestApp.
func TestRunnerImage(t *testing.T) {
	tag := "plimsoll-functional-runner:" + strings.ToLower(testenv.NewRunID("tag"))
	testenv.LoadIntoDaemon(t, suiteImage(t, "3.19.4"), tag)
	good := enginetest.Image(t, "testapp", testenv.TestAppImage(t, testenv.TestAppOptions{}))
	slow := enginetest.Image(t, "testapp-slow", testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_SLOW_US=8000000"}}))
	app := config.App{Health: config.Health{HTTP: "/healthz", Timeout: 30 * time.Second}}
	runner := config.Functional{Runner: config.FunctionalRunner{Image: tag, Command: append(slices.Clone(goSuite), "-test.run=^TestApp$")}}
	res, err := runSuite(t, app, runner, env(good, slow))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s | %s", res.Status, res.Message, res.Source)
	if res.Status != check.StatusFail || !strings.Contains(res.Message, "1 regression: fileprobe/TestApp") ||
		res.Baseline != "OLD 100 % (1/1 passed)" {
		t.Errorf("%s %q %q", res.Status, res.Message, res.Baseline)
	}
	if !strings.Contains(res.Source, "runner image "+tag) {
		t.Errorf("source %q", res.Source)
	}
}

// TestRerunFlaky: a host runner whose first run fails one test, which passes on the rerun:
// reported flaky, counted as passed.
func TestRerunFlaky(t *testing.T) {
	app := enginetest.Image(t, "testapp", testenv.TestAppImage(t, testenv.TestAppOptions{}))
	dir := t.TempDir()
	script := filepath.Join(dir, "suite.sh")
	body := `#!/bin/sh
runs=$(cat "` + dir + `/runs" 2>/dev/null || echo 0)
echo $((runs+1)) > "` + dir + `/runs"
echo "TAP version 13"
echo "ok 1 - app answers"
if [ "$runs" -eq 0 ]; then echo "not ok 2 - warm cache"; else echo "ok 2 - warm cache"; fi
echo "1..2"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	f := config.Functional{Runner: config.FunctionalRunner{Command: []string{script}}, Reruns: 1}
	res, err := runSuite(t, config.App{Health: config.Health{HTTP: "/healthz", Timeout: 30 * time.Second}}, f, env(app, app))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", res.Status, res.Message)
	if res.Status != check.StatusPass || !strings.Contains(res.Message, "1 flaky") {
		t.Errorf("%s %q", res.Status, res.Message)
	}
	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if strings.TrimSpace(string(runs)) != "3" {
		t.Errorf("the suite ran %s times, want 3 (OLD, its rerun, NEW)", runs)
	}
	d := data(t, res)
	if c := d.Old.Cases[1]; !c.Flaky || c.Attempts != 2 || c.Outcome != testreport.Failed {
		t.Errorf("OLD warm cache: %+v", c)
	}
}
