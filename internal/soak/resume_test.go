package soak_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

const resumePolicy = `apiVersion: plimsoll/v1
kind: Policy
app:
  cpus: 1
  memory: 256m
  health: {http: /healthz, timeout: 20s, interval: 50ms}
soak:
  duration: 30s
  interval: 1s
  warmup: 5s
  load: {rate: 50, connections: 4}
`

// TestKillAndResume runs a real `plimsoll soak` process, kills it with SIGKILL at sample 12 of
// 30, checks that its container survived (also a `plimsoll gc` in between) and that every
// sample taken is in the store, resumes it with --resume, and compares the finished soak with
// an uninterrupted one of the same image: all 30 samples, numbered once each, and the same
// verdict.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	docker := testenv.Docker(t)
	bin := buildPlimsoll(t)
	tag := "plimsoll-soak-resume:" + strings.ReplaceAll(testenv.NewRunID("t"), ".", "-")
	testenv.LoadIntoDaemon(t, testenv.TestAppImage(t, testenv.TestAppOptions{}), tag)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(resumePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "plimsoll.db")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "PLIMSOLL_STORE="+dbPath)
	args := []string{"soak", "--policy", policy, "--progress-every", "1", "docker:" + tag}

	var runs []string
	t.Cleanup(func() {
		for _, id := range runs {
			_ = exec.Command(bin, "gc", "--run", id).Run()
		}
	})

	// The uninterrupted soak, beside the one to kill.
	whole := exec.Command(bin, args...)
	whole.Env = env
	var wholeOut, wholeErr bytes.Buffer
	whole.Stdout, whole.Stderr = &wholeOut, &wholeErr
	if err := whole.Start(); err != nil {
		t.Fatal(err)
	}

	killed := exec.Command(bin, args...)
	killed.Env = env
	stderr, err := killed.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	runID, seen := "", 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "soak "); ok && strings.Contains(rest, ": if plimsoll is stopped") {
			runID = rest[:strings.IndexByte(rest, ':')]
			runs = append(runs, runID)
		}
		if strings.HasPrefix(line, "soak 12/30 ") {
			seen = 12
			break
		}
	}
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stderr)
	_ = killed.Wait()
	if runID == "" || seen != 12 {
		t.Fatalf("the soak never reached sample 12 (run %q): %v", runID, sc.Err())
	}

	// The container lives on, even through a gc.
	if out, err := exec.Command(bin, "gc").CombinedOutput(); err != nil {
		t.Fatalf("plimsoll gc: %v\n%s", err, out)
	}
	list, err := docker.ContainerList(t.Context(), client.ContainerListOptions{Filters: make(client.Filters).Add("label", "plimsoll.run="+runID)})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("containers of %s after the kill and a gc: %v %v", runID, list.Items, err)
	}
	st, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ss, err := st.Samples(t.Context(), runID, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, before, _ := soak.Recordings(time.Time{}, ss)
	if before < 12 {
		t.Fatalf("%d samples stored before the kill, the process had printed 12", before)
	}

	resumed := exec.Command(bin, "soak", "--resume", runID, "--no-progress")
	resumed.Env = env
	var resOut, resErr bytes.Buffer
	resumed.Stdout, resumed.Stderr = &resOut, &resErr
	resCode := exitCode(t, resumed.Run())
	wholeCode := exitCode(t, whole.Wait())
	t.Logf("resumed (exit %d):\n%s%s", resCode, resOut.String(), resErr.String())
	t.Logf("uninterrupted (exit %d):\n%s", wholeCode, wholeOut.String())
	if resCode != wholeCode || lastLine(resOut.String())[:5] != lastLine(wholeOut.String())[:5] {
		t.Errorf("verdicts differ: resumed %d %q, uninterrupted %d %q", resCode, lastLine(resOut.String()), wholeCode, lastLine(wholeOut.String()))
	}
	if !strings.Contains(resOut.String(), "30 of 30 samples") || !strings.Contains(wholeOut.String(), "30 of 30 samples") {
		t.Errorf("sample counts: resumed %q, uninterrupted %q", firstLine(resOut.String()), firstLine(wholeOut.String()))
	}
	if !strings.Contains(resOut.String(), "resumed at sample") {
		t.Errorf("the resumed soak does not say it resumed")
	}

	ss, err = st.Samples(t.Context(), runID, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := 1.0
	for _, s := range ss {
		if s.Metric == soak.TickMetric {
			if s.Value != next {
				t.Fatalf("tick %v stored where %v was due: a sample lost or taken twice", s.Value, next)
			}
			next++
		}
	}
	recs, ticks, err := soak.Recordings(time.Time{}, ss)
	if err != nil || ticks != 30 || recs["new"].RSS.Len() != 30 || recs["new"].Health.Len() != 30 {
		t.Errorf("store: %d ticks, %d RSS samples (%v), want 30", ticks, recs["new"].RSS.Len(), err)
	}
	list, err = docker.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "plimsoll.run="+runID)})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("containers of %s after the resumed soak ended: %d %v", runID, len(list.Items), err)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1] + "     "
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// buildPlimsoll builds cmd/plimsoll into the test's temp dir.
func buildPlimsoll(t *testing.T) string {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "plimsoll")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/plimsoll")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
