package soak

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
)

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLock takes a soak's lease over from holders that are gone and is refused by those that
// are not, naming them.
func TestLock(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plimsoll.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	me := self()
	if me.Started.IsZero() || me.Started.After(time.Now()) || time.Since(me.Started) > time.Hour {
		t.Fatalf("this process started at %v: not read from /proc", me.Started)
	}
	parent := store.Owner{Host: me.Host, PID: os.Getppid(), Started: procStart(os.Getppid())}
	tests := []struct {
		name   string
		holder *store.Owner // nil: the lease is free
		ttl    time.Duration
		taken  bool
	}{
		{"free", nil, 0, true},
		{"own", &me, time.Hour, true},
		{"live process on this host", &parent, time.Hour, false},
		{"gone from this host", &store.Owner{Host: me.Host, PID: deadPID(t), Started: me.Started}, time.Hour, true},
		{"PID reused on this host", &store.Owner{Host: me.Host, PID: parent.PID, Started: parent.Started.Add(-time.Hour)}, time.Hour, true},
		{"another host, renewed", &store.Owner{Host: "elsewhere", PID: 4242, Started: me.Started}, time.Hour, false},
		{"another host, expired", &store.Owner{Host: "elsewhere", PID: 4242, Started: me.Started}, time.Millisecond, true},
	}
	for i, tc := range tests {
		runID := "soak-" + strconv.Itoa(i)
		if tc.holder != nil {
			if _, err := st.AcquireLease(ctx, leaseName(runID), *tc.holder, tc.ttl); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
		err := lock(ctx, st, runID, me)
		if tc.taken {
			if err != nil {
				t.Errorf("%s: %v, want the lease taken", tc.name, err)
			}
			if _, err := st.AcquireLease(ctx, leaseName(runID), store.Owner{Host: "probe", PID: 1}, time.Hour); !errors.Is(err, store.ErrLeaseHeld) {
				t.Errorf("%s: the lease is not held after lock: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrStillRunning) || !strings.Contains(err.Error(), "process "+strconv.Itoa(tc.holder.PID)+" on "+tc.holder.Host) {
			t.Errorf("%s: %v, want ErrStillRunning naming process %d on %s", tc.name, err, tc.holder.PID, tc.holder.Host)
		}
	}
}

// TestHoldLease: renewing a lease another process took over calls lost, with ErrLeaseLost.
func TestHoldLease(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plimsoll.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	me := self()
	if err := lock(ctx, st, "r", me); err != nil {
		t.Fatal(err)
	}
	lctx, lost := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		holdLease(lctx, st, "r", me, 10*time.Millisecond, slog.New(slog.DiscardHandler), lost)
	}()
	time.Sleep(50 * time.Millisecond)
	if lctx.Err() != nil {
		t.Fatalf("lost a lease nobody took: %v", context.Cause(lctx))
	}
	other := store.Owner{Host: "elsewhere", PID: 7}
	if _, err := st.TakeOverLease(ctx, leaseName("r"), other, me, time.Hour); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("holdLease did not notice the lease taken over")
	}
	if err := context.Cause(lctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("cause = %v, want ErrLeaseLost", err)
	}
}
