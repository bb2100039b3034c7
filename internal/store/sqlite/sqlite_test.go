package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/store/storetest"
)

// childEnv, when set, makes the test binary the child of TestSIGKILLMidAppend: it appends
// samples to the database at that path until it is killed.
const childEnv = "PLIMSOLL_STORE_TEST_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(appendUntilKilled(path))
	}
	os.Exit(m.Run())
}

// appendUntilKilled appends one sample at a time and, once AppendSamples has returned,
// prints its value: every printed value must survive the SIGKILL.
func appendUntilKilled(path string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := 1; ; i++ {
		if err := s.AppendSamples(ctx, "soak", store.Sample{Time: time.Now(), Metric: "rss_bytes", Value: float64(i)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := fmt.Fprintln(os.Stdout, i); err != nil {
			return 2
		}
	}
}

func target(t *testing.T) storetest.Target {
	path := filepath.Join(t.TempDir(), "state", "plimsoll.db")
	raw := func() (*sql.DB, error) {
		return sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	}
	return storetest.Target{
		Open: func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) },
		Exec: func(ctx context.Context, q string) error {
			db, err := raw()
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.ExecContext(ctx, q)
			return err
		},
		Int: func(ctx context.Context, q string) (int64, error) {
			db, err := raw()
			if err != nil {
				return 0, err
			}
			defer db.Close()
			var n int64
			err = db.QueryRowContext(ctx, q).Scan(&n)
			return n, err
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, target) }

func TestWAL(t *testing.T) {
	tg := target(t)
	s, err := tg.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The journal mode is a property of the file, so another connection sees it.
	if mode, err := tg.Int(t.Context(), "SELECT journal_mode = 'wal' FROM pragma_journal_mode"); err != nil || mode != 1 {
		t.Errorf("journal mode is not WAL (%d, %v)", mode, err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if p, err := sqlite.DefaultPath(); err != nil || p != "/var/state/plimsoll/plimsoll.db" {
		t.Errorf("with XDG_STATE_HOME: %q, %v", p, err)
	}
	for _, v := range []string{"", "relative/dir"} {
		t.Setenv("XDG_STATE_HOME", v)
		t.Setenv("HOME", "/home/u")
		if p, err := sqlite.DefaultPath(); err != nil || p != "/home/u/.local/state/plimsoll/plimsoll.db" {
			t.Errorf("XDG_STATE_HOME=%q: %q, %v", v, p, err)
		}
	}
}

// TestSIGKILLMidAppend kills a process appending samples and finds every sample whose
// AppendSamples returned before the kill.
func TestSIGKILLMidAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plimsoll.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil || n != acked+1 {
			t.Fatalf("child printed %q after %d", sc.Text(), acked)
		}
		acked = n
		if acked == 200 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if acked < 200 {
		t.Fatalf("child acknowledged only %d appends", acked)
	}
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Samples(t.Context(), "soak", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every acknowledged sample is there; at most one more committed before its value was printed.
	if len(got) < acked || len(got) > acked+1 {
		t.Fatalf("%d samples after the kill, %d acknowledged", len(got), acked)
	}
	for i, sm := range got {
		if sm.Seq != int64(i+1) || sm.Value != float64(i+1) {
			t.Fatalf("sample %d = %+v", i+1, sm)
		}
	}
	t.Logf("%d appends acknowledged before SIGKILL, %d samples found", acked, len(got))
}

// BenchmarkAppendSample measures one durable single-sample append, as a soak makes once per
// metric per interval.
func BenchmarkAppendSample(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "plimsoll.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; b.Loop(); i++ {
		if err := s.AppendSamples(b.Context(), "soak", store.Sample{Time: time.Now(), Metric: "rss_bytes", Value: float64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
