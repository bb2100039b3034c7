package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

const soakPolicy = `apiVersion: plimsoll/v1
kind: Policy
app:
  cpus: 1
  memory: 256m
  health: {http: /healthz, timeout: 20s, interval: 50ms}
soak:
  duration: 30s
  interval: 1s
  warmup: 6s
  load: {rate: 20, connections: 2}
`

// TestTwoResumesAtOnce resumes a running soak (refused: its process lives), kills it with
// SIGKILL at sample 7 of 30 and starts two
// `plimsoll soak --resume RUN` of it at the same moment: exactly one carries the soak on (taking
// over the lease of the killed process, which is gone), the other exits 1 with one line naming
// the process that holds the soak, and the store holds each of the 30 ticks once.
func TestTwoResumesAtOnce(t *testing.T) {
	testenv.Docker(t)
	tag := "plimsoll-e2e-soak:" + strings.ReplaceAll(testenv.NewRunID("t"), ".", "-")
	testenv.LoadIntoDaemon(t, testenv.TestAppImage(t, testenv.TestAppOptions{}), tag)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(soakPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "plimsoll.db")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "PLIMSOLL_STORE="+dbPath)

	first := exec.Command(bin, "soak", "--policy", policy, "--progress-every", "1", "docker:"+tag)
	first.Env = env
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	runID, reached := "", false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "soak "); ok && strings.Contains(rest, ": if plimsoll is stopped") {
			runID = rest[:strings.IndexByte(rest, ':')]
		}
		if strings.HasPrefix(line, "soak 7/30 ") {
			reached = true
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	if runID != "" {
		t.Cleanup(func() { _ = exec.Command(bin, "gc", "--run", runID).Run() })
	}
	if runID == "" || !reached {
		_ = first.Process.Kill()
		t.Fatalf("the soak never reached sample 7 (run %q): %v", runID, sc.Err())
	}
	// While the soak runs, a resume is refused, naming it.
	early := exec.Command(bin, "soak", "--resume", runID, "--no-progress")
	early.Env = env
	out, err := early.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 ||
		!strings.Contains(string(out), "process "+strconv.Itoa(first.Process.Pid)) {
		t.Errorf("a resume while the soak runs: %v, %q; want exit 1 and one line naming process %d", err, out, first.Process.Pid)
	}
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()

	// Two resumes at once.
	type resume struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		code           int
	}
	rs := []*resume{{}, {}}
	for _, r := range rs {
		r.cmd = exec.Command(bin, "soak", "--resume", runID, "--no-progress")
		r.cmd.Env = env
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		wg.Go(func() {
			err := r.cmd.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				r.code = ee.ExitCode()
			}
		})
	}
	wg.Wait()
	for i, r := range rs {
		t.Logf("resume %d (pid %d) exit %d\nstdout:\n%sstderr:\n%s", i, r.cmd.Process.Pid, r.code, r.stdout.String(), r.stderr.String())
	}

	rows := 0
	ss := func() []float64 {
		st, err := sqlite.Open(t.Context(), dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		all, err := st.Samples(t.Context(), runID, 0)
		if err != nil {
			t.Fatal(err)
		}
		rows = len(all)
		var ticks []float64
		for _, s := range all {
			if s.Metric == soak.TickMetric {
				ticks = append(ticks, s.Value)
			}
		}
		return ticks
	}()
	t.Logf("store: %d tick rows %v (%d sample rows in all)", len(ss), ss, rows)

	refused, ran := -1, -1
	for i, r := range rs {
		switch r.code {
		case 1:
			refused = i
		case 0, 10, 20:
			ran = i
		}
	}
	if refused < 0 || ran < 0 {
		t.Fatalf("exit codes %d and %d: want one resume to run the soak (0, 10 or 20) and the other refused (1)", rs[0].code, rs[1].code)
	}
	msg := strings.TrimSpace(rs[refused].stderr.String())
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "process "+strconv.Itoa(rs[ran].cmd.Process.Pid)) {
		t.Errorf("the refused resume said %q: want one line naming the process that runs the soak (%d)", msg, rs[ran].cmd.Process.Pid)
	}
	if !strings.Contains(rs[ran].stdout.String(), "30 of 30 samples") {
		t.Errorf("the running resume: %q, want 30 of 30 samples", firstLine(rs[ran].stdout.String()))
	}
	if len(ss) != 30 {
		t.Errorf("%d ticks stored, want 30", len(ss))
	}
	for i, v := range ss {
		if v != float64(i+1) {
			t.Fatalf("tick %v stored where %d was due: a tick stored twice or lost", v, i+1)
		}
	}
	if left := containersOf(t, "plimsoll.run", runID); len(left) > 0 {
		t.Errorf("containers of %s left after the soak ended: %v", runID, left)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
