package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestSoakUsageErrors(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: plimsoll/v1\nkind: Policy\nsoak:\n  interval: 1h\n  duration: 2h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"soak"}, "give NEW"},
		{[]string{"soak", "a", "--resume", "r"}, "not both"},
		{[]string{"soak", "a", "b", "c"}, "accepts between 0 and 2"},
		{[]string{"soak", "--resume", "nope"}, "no soak of that run"},
		{[]string{"soak", "--resume", "../x"}, "not a run id"},
		{[]string{"soak", "--resume", "r", "--duration", "1h"}, "continues the soak as it was started"},
		{[]string{"soak", "a", "--duration", "-1s"}, "negative"},
		{[]string{"soak", "a", "--policy", bad}, "a trend needs at least 3"},
		{[]string{"soak", "a", "--duration", "2s", "--interval", "1s"}, "a trend needs at least 3"},
		{[]string{"soak", "a", "--store", "mysql://x"}, "unrecognised store DSN"},
	}
	for _, tc := range tests {
		_, _, err := execute(t, tc.args...)
		// A policy file's problems are config.ErrInvalid, which main maps to the usage code too.
		if !(errors.Is(err, ErrUsage) || errors.Is(err, config.ErrInvalid)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestSoakProgress(t *testing.T) {
	e := soak.Progress{Tick: 12, Ticks: 60, Elapsed: 12 * time.Second, Remaining: 48 * time.Second,
		Images: map[string]soak.Snapshot{
			"new": {RSS: 24 << 20, Growth: 12.34, HealthRate: 100, FDs: 12, Leak: true},
			"old": {RSS: 20 << 20, Growth: math.NaN(), HealthRate: 99.5, FDs: 11},
		}}
	want := "soak 12/60 12s elapsed, 48s left | NEW RSS 24.0 MiB growth +12.3% LEAK? health 100.0% fds 12 | OLD RSS 20.0 MiB growth n/a health 99.5% fds 11"
	if got := soakLine(e); got != want {
		t.Errorf("line\n got %q\nwant %q", got, want)
	}
	var b bytes.Buffer
	p := newSoakProgress(&b, 5)
	for i := 1; i <= 10; i++ {
		e.Tick, e.Ticks = i, 10
		p.event(e)
	}
	p.event(soak.Progress{Note: "NEW: memory leak suspected"})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "soak 5/10 ") || !strings.HasPrefix(lines[1], "soak 10/10 ") || lines[2] != "soak: NEW: memory leak suspected" {
		t.Errorf("plain progress every 5 samples:\n%s", b.String())
	}
}

// TestCheckRunsLayer6 runs `plimsoll check OLD NEW --layers 6` on the real engine with a
// compressed soak: NEW leaks memory per request, so the verdict is NO-GO on L6 memory; the
// plots are in the report directory and the samples in the store under the run's ID.
func TestCheckRunsLayer6(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	tag := "plimsoll-cli-l6:" + strings.ReplaceAll(testenv.NewRunID("t"), ".", "-")
	testenv.LoadIntoDaemon(t, testenv.TestAppImage(t, testenv.TestAppOptions{}), tag+"-old")
	testenv.LoadIntoDaemon(t, testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_LEAK_KB_PER_REQ=64"}}), tag+"-new")
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: plimsoll/v1
kind: Policy
app: {cpus: 1, memory: 256m, health: {http: /healthz}}
soak: {duration: 30s, interval: 1s, warmup: 5s, load: {rate: 50, connections: 4}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "plimsoll.db")
	out, _, err := execute(t, "check", "docker:"+tag+"-old", "docker:"+tag+"-new", "--layers", "6", "--policy", policy,
		"--store", db, "--report-dir", filepath.Join(dir, "report"), "--no-progress", "-o", "json")
	var d *DecisionError
	if !errors.As(err, &d) || d.Decision != "NO-GO" || !strings.Contains(d.Reason, "memory") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var rep struct {
		RunID string `json:"runId"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.RunID == "" {
		t.Fatalf("report: %v", err)
	}
	for _, f := range []string{soak.PlotMemory, soak.PlotFDs, soak.PlotHealth} {
		if _, err := os.Stat(filepath.Join(dir, "report", f)); err != nil {
			t.Error(err)
		}
	}
	st, err := open.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ss, err := st.Samples(t.Context(), rep.RunID, 0)
	if err != nil || len(ss) == 0 {
		t.Fatalf("samples of %s: %d %v", rep.RunID, len(ss), err)
	}
	recs, ticks, err := soak.Recordings(time.Time{}, ss)
	if err != nil || ticks == 0 || recs["old"].RSS.Len() != ticks || recs["new"].RSS.Len() != ticks {
		t.Errorf("stored: %d ticks %v", ticks, err)
	}
}
