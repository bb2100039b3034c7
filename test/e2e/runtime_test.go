package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/plimsoll/plimsoll/internal/sign/signtest"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// appPolicy is a policy for test/testapp images; extra is appended (more harden: keys, say).
func appPolicy(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	body := `apiVersion: plimsoll/v1
kind: Policy
plan:
  patch: {layers: [diff, smoke, harden]}  # L4 is tested in internal/check/perf
app:
  port: 8080
  health: {http: /healthz, timeout: 20s}
smoke:
  stayUp: 1s
  binaries: [/usr/local/bin/testapp]
  requests:
    - {path: /, expect: "hello from testapp"}
` + extra
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// layoutPair writes old and new into one OCI layout, tagged "old" and "new".
func layoutPair(t *testing.T, old, new v1.Image) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range map[string]v1.Image{"old": old, "new": new} {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			t.Fatal(err)
		}
	}
	return "oci-dir:" + dir + ":old", "oci-dir:" + dir + ":new"
}

// containersOf lists the containers (running or not) carrying label=value.
func containersOf(t *testing.T, label, value string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+label+"="+value).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// TestHardenedSignedImageIsGO is the whole gate on a good upgrade: both images in a loopback
// registry, the new one signed with a key and carrying an SBOM referrer, Layers 1, 2 and 5 run
// for real, and the verdict is GO.
func TestHardenedSignedImageIsGO(t *testing.T) {
	testenv.Docker(t)
	host := signtest.StartRegistry(t, true)
	repo, err := name.NewRepository(host + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]v1.Hash{}
	for _, v := range []string{"1.4.2", "1.4.3"} {
		img := testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=" + v}})
		if err := remote.Write(repo.Tag(v), img); err != nil {
			t.Fatal(err)
		}
		digests[v], _ = img.Digest()
	}
	signer := signtest.NewKeySigner(t)
	signtest.SignClassic(t, repo, digests["1.4.3"], digests["1.4.3"], signer)
	signtest.PutReferrer(t, repo, digests["1.4.3"], "application/spdx+json", "application/spdx+json",
		[]byte(`{"spdxVersion":"SPDX-2.3","name":"app"}`), nil)
	pol := appPolicy(t, "harden:\n  signature: {required: true, key: "+signer.PubPath+"}\n")
	db := buildVulnDB(t, alpineAdvisories)
	out := t.TempDir()
	r := plimsoll(t, "check", "registry:"+repo.Tag("1.4.2").String(), "registry:"+repo.Tag("1.4.3").String(),
		"--policy", pol, "--vuln-db", db, "--report-dir", out, "--no-progress")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0 (GO)\n%s", r.code, r.stdout)
	}
	sum := summary(t, out)
	if k := get(t, sum, "plan", "kind"); k != "patch" {
		t.Errorf("plan kind = %v", k)
	}
	ran := map[float64]bool{}
	for _, l := range get(t, sum, "layers").([]any) {
		lm := l.(map[string]any)
		if lm["state"] == "ran" {
			ran[lm["layer"].(float64)] = true
			for _, res := range lm["results"].([]any) {
				rm := res.(map[string]any)
				if rm["status"] != "pass" && !(rm["check"] == "dependencies" && rm["status"] == "skipped") {
					t.Errorf("L%v %v: %v %v", lm["layer"], rm["check"], rm["status"], rm["message"])
				}
			}
		}
	}
	if !ran[1] || !ran[2] || !ran[5] {
		t.Errorf("layers that ran: %v, want 1, 2 and 5", ran)
	}
}

// TestBrokenImagesAreNoGo gives a good OLD and a NEW with one fault each; the check named
// must be among the failing reasons of a NO-GO.
func TestBrokenImagesAreNoGo(t *testing.T) {
	testenv.Docker(t)
	good := testenv.TestAppImage(t, testenv.TestAppOptions{})
	signer := signtest.NewKeySigner(t)
	relaxed := "harden:\n  sbom: {required: false}\n"
	tests := []struct {
		name   string
		opts   testenv.TestAppOptions
		policy string
		layer  float64
		check  string
	}{
		{"exits at start", testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=exit"}}, relaxed, 2, "start"},
		{"health never answers", testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=nohealth"}}, relaxed, 2, "health"},
		{"panics after start", testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=panic-after-start"}}, relaxed, 2, "logs"},
		{"runs as root", testenv.TestAppOptions{User: "0:0"}, relaxed, 5, "user"},
		{"carries a shell", testenv.TestAppOptions{Shell: true}, relaxed, 5, "shell"},
		{"needs a writable root", testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=writeroot"}},
			"harden:\n  readOnlyRoot: true\n  sbom: {required: false}\n", 5, "read-only-root"},
		{"unsigned where a signature is required", testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}},
			"harden:\n  sbom: {required: false}\n  signature: {required: true, key: " + signer.PubPath + "}\n", 5, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldRef, newRef := layoutPair(t, good, testenv.TestAppImage(t, tt.opts))
			out := t.TempDir()
			r := plimsoll(t, "check", oldRef, newRef, "--layers", "smoke,harden", "--policy", appPolicy(t, tt.policy),
				"--report-dir", out, "--no-progress")
			if r.code != 20 {
				t.Fatalf("exit %d, want 20 (NO-GO)\n%s", r.code, r.stdout)
			}
			// The named check must be among the failing reasons; their order is not asserted,
			// as a fault may rightly fail another check too (a root user may also break the
			// read-only start) and load can change which is listed first.
			reasons := get(t, summary(t, out), "verdict", "reasons").([]any)
			if !hasReason(reasons, tt.layer, tt.check, "fail") {
				t.Errorf("no reason is L%v %s fail; reasons: %v", tt.layer, tt.check, reasons)
			}
		})
	}
}

func TestNoDockerEngineIsAnError(t *testing.T) {
	oldRef, newRef := layoutPair(t, testenv.TestAppImage(t, testenv.TestAppOptions{}),
		testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}}))
	cmd := exec.Command(bin, "check", oldRef, newRef, "--layers", "smoke", "--policy", appPolicy(t, ""), "--no-progress")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit 1 (could not decide)\n%s", err, out)
	}
	oneLine(t, result{code: 1, stderr: string(ee.Stderr)}, "no Docker engine answers")
	if !strings.Contains(string(out), "ERROR") {
		t.Errorf("the report does not say ERROR:\n%s", out)
	}
}

// TestInterruptLeavesNothing kills runs at random points of Layers 2 and 5: after SIGINT or
// SIGTERM the run removes its own containers; after SIGKILL the next `plimsoll gc` does.
func TestInterruptLeavesNothing(t *testing.T) {
	testenv.Docker(t)
	good := testenv.TestAppImage(t, testenv.TestAppOptions{})
	oldRef, newRef := layoutPair(t, good, testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}}))
	pol := appPolicy(t, "harden:\n  sbom: {required: false}\n")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT, syscall.SIGKILL} {
		after := time.Duration(300+rng.IntN(4000)) * time.Millisecond
		t.Run(fmt.Sprintf("%d-%s-after-%s", i, sig, after), func(t *testing.T) {
			cmd := exec.Command(bin, "check", oldRef, newRef, "--layers", "smoke,harden", "--policy", pol, "--no-progress")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := strconv.Itoa(cmd.Process.Pid)
			time.Sleep(after)
			_ = cmd.Process.Signal(sig)
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			switch sig {
			case syscall.SIGKILL:
				gc := exec.Command(bin, "gc")
				if b, err := gc.CombinedOutput(); err != nil {
					t.Fatalf("plimsoll gc: %v\n%s", err, b)
				}
			default:
				// A run that finished before the signal exits with its verdict; else 130.
				if code != 130 && code != 10 {
					t.Errorf("exit %d after %s, want 130 (or 10 when the run had finished)", code, sig)
				}
				// It says what stopped it and what it cleaned up, not "context canceled".
				if last := lastLine(stderr.String()); code == 130 && (!strings.HasPrefix(last, "plimsoll: interrupted by "+signame(sig)) ||
					!strings.Contains(last, "removed") && !strings.Contains(last, "no containers to remove") || strings.Contains(last, "context canceled")) {
					t.Errorf("last line after %s = %q, want it to say interrupted by %s and what was removed", sig, last, signame(sig))
				}
			}
			if left := containersOf(t, "plimsoll.pid", pid); len(left) > 0 {
				t.Errorf("%d containers left behind after %s: %v", len(left), sig, left)
				_ = exec.CommandContext(context.Background(), "docker", append([]string{"rm", "-f"}, left...)...).Run()
			}
		})
	}
}

// signame is SIGINT or SIGTERM, as plimsoll names them.
func signame(sig syscall.Signal) string {
	if sig == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// hasReason reports whether the verdict's reasons (summary.json) hold a check of layer named
// check with status.
func hasReason(reasons []any, layer float64, check, status string) bool {
	for _, r := range reasons {
		rm, _ := r.(map[string]any)
		if rm["layer"] == layer && rm["check"] == check && rm["status"] == status {
			return true
		}
	}
	return false
}

// TestHungEngineCleanup puts an engine that stops answering during cleanup (a proxy in front
// of the real engine holds every DELETE /containers/… and GET /containers/json) under a run
// stopped by SIGTERM. With calls bounded (app.engineTimeout) the run gives up on the cleanup
// and exits 130 naming the containers that may be left; with a long bound, a second SIGTERM
// exits at once and says the same. Either way `plimsoll gc` then removes them.
func TestHungEngineCleanup(t *testing.T) {
	testenv.Docker(t)
	oldRef, newRef := layoutPair(t, testenv.TestAppImage(t, testenv.TestAppOptions{}),
		testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}}))
	for _, tc := range []struct {
		name, engineTimeout string
		second              bool
	}{
		{"calls-bounded", "3s", false},
		{"second-signal", "10m", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := testenv.HangingEngine(t)
			pol := filepath.Join(t.TempDir(), "policy.yaml")
			body := "apiVersion: plimsoll/v1\nkind: Policy\napp:\n  port: 8080\n  health: {http: /healthz, timeout: 20s}\n" +
				"  engineTimeout: " + tc.engineTimeout + "\nsmoke:\n  stayUp: 30s\n"
			if err := os.WriteFile(pol, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "check", oldRef, newRef, "--layers", "smoke", "--policy", pol, "--no-progress", "--store", "none")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+proxy.Host)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			pid := strconv.Itoa(cmd.Process.Pid)
			defer func() {
				_ = cmd.Process.Kill()
				if b, err := exec.Command(bin, "gc").CombinedOutput(); err != nil {
					t.Errorf("plimsoll gc: %v\n%s", err, b)
				}
				if left := containersOf(t, "plimsoll.pid", pid); len(left) > 0 {
					t.Errorf("%d containers left after plimsoll gc: %v", len(left), left)
					_ = exec.Command("docker", append([]string{"rm", "-f"}, left...)...).Run()
				}
			}()
			// Once a container runs, the engine stops answering the cleanup's calls.
			waitFor(t, done, func() bool { return slices.ContainsFunc(proxy.Seen(), isStart) })
			proxy.Hang(func(method, path string) bool {
				return method == "DELETE" && strings.HasPrefix(path, "/containers/") || method == "GET" && path == "/containers/json"
			})
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if tc.second {
				waitFor(t, done, func() bool { return len(proxy.Hung()) > 0 })
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			select {
			case err := <-done:
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				last := lastLine(stderr.String())
				t.Logf("exit %d, held %v\nstderr:\n%s", code, proxy.Hung(), stderr.String())
				want := "interrupted by SIGTERM"
				if tc.second {
					want = "second SIGTERM"
				}
				if code != 130 || !strings.Contains(last, want) || !strings.Contains(last, "plimsoll gc") || !strings.Contains(last, "plimsoll-") {
					t.Errorf("exit %d, last line %q: want 130 and a line saying %q, which containers may be left and that plimsoll gc removes them", code, last, want)
				}
			case <-time.After(3 * time.Minute):
				t.Fatalf("plimsoll still running 3 minutes after SIGTERM with the engine hung (held %v)", proxy.Hung())
			}
		})
	}
}

// isStart reports whether call starts a container.
func isStart(call string) bool {
	return strings.HasPrefix(call, "POST /containers/") && strings.HasSuffix(call, "/start")
}

// waitFor waits up to two minutes for cond, failing t if the process ends first or it never holds.
func waitFor(t *testing.T, done <-chan error, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("plimsoll ended early: %v", err)
		default:
		}
	}
	t.Fatal("timed out waiting")
}

// TestHungEngineMidRun puts an engine that stops answering in the middle of a run (a proxy in
// front of the real engine holds every container inspect once both containers run, as Layer 2
// smoke watches them stay up) under `plimsoll check` with app.engineTimeout at 3s. The run
// must end long before its plan's budget, with verdict ERROR naming the Layer 2 check that was
// running and why it stopped, its reports written, its record stored, and no container left.
func TestHungEngineMidRun(t *testing.T) {
	testenv.Docker(t)
	oldRef, newRef := layoutPair(t, testenv.TestAppImage(t, testenv.TestAppOptions{}),
		testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_VERSION=2"}}))
	proxy := testenv.HangingEngine(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	body := "apiVersion: plimsoll/v1\nkind: Policy\napp:\n  port: 8080\n  health: {http: /healthz, timeout: 20s}\n" +
		"  engineTimeout: 3s\nsmoke:\n  stayUp: 20s\n"
	if err := os.WriteFile(pol, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	reports, db := filepath.Join(dir, "report"), filepath.Join(dir, "plimsoll.db")
	cmd := exec.Command(bin, "check", oldRef, newRef, "--layers", "smoke", "--policy", pol, "--no-progress",
		"--report-dir", reports, "--store", db)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+proxy.Host)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	defer func() {
		_ = cmd.Process.Kill()
		if left := containersOf(t, "plimsoll.pid", pid); len(left) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, left...)...).Run()
		}
	}()
	// Once both containers run, the engine stops answering inspects, mid-run.
	waitFor(t, done, func() bool {
		n := 0
		for _, c := range proxy.Seen() {
			if isStart(c) {
				n++
			}
		}
		return n >= 2
	})
	proxy.Hang(func(method, path string) bool {
		return method == "GET" && strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json")
	})
	started := time.Now()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("plimsoll still running 5 minutes after the engine stopped answering (held %v)\nstderr:\n%s", proxy.Hung(), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	t.Logf("exit %d after %s with the engine hung, held %d calls\nstdout:\n%s\nstderr:\n%s", code, time.Since(started).Round(time.Second),
		len(proxy.Hung()), stdout.String(), stderr.String())
	if len(proxy.Hung()) == 0 {
		t.Fatal("no call was held: the run did not meet the hung engine")
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (ERROR)", code)
	}
	s := summary(t, reports)
	if d := get(t, s, "verdict", "decision"); d != "ERROR" {
		t.Errorf("verdict %v, want ERROR", d)
	}
	budget, _ := time.ParseDuration(fmt.Sprint(get(t, s, "plan", "budget")))
	if took := time.Since(started); budget > 0 && took >= budget {
		t.Errorf("the run took %s, its budget %s: the hung engine held it to the end", took, budget)
	}
	reasons, _ := get(t, s, "verdict", "reasons").([]any)
	var why string
	for _, r := range reasons {
		rm, _ := r.(map[string]any)
		if rm["layer"] == 2.0 && rm["status"] == "error" {
			why = fmt.Sprint(rm["check"], ": ", rm["message"])
			break
		}
	}
	if why == "" || !strings.Contains(why, "engine stopped answering") || !strings.Contains(why, "app.engineTimeout") || strings.Contains(why, "budget") {
		t.Errorf("verdict reasons %v: want a Layer 2 check in ERROR saying the engine stopped answering within app.engineTimeout (not the budget)", reasons)
	} else {
		t.Logf("reason: %s", why)
	}
	for _, f := range []string{"summary.json", "junit.xml", "summary.md", "summary.txt", "report.html"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("report %s: %v", f, err)
		}
	}
	runID, _ := get(t, s, "runId").(string)
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rep, err := st.GetRun(t.Context(), runID); err != nil || rep.Verdict.Decision != "ERROR" {
		t.Errorf("stored run %q: %v (%v), want its ERROR record", runID, err, rep)
	}
	if left := containersOf(t, "plimsoll.pid", pid); len(left) > 0 {
		t.Errorf("%d containers left after the run: %v", len(left), left)
	}
}
