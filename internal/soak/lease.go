package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/store"
)

// LeaseTTL is how long a soak's lease in the store lasts unless renewed; the process running
// the soak renews it every LeaseTTL/4 and releases it when it stops.
//
// One process at a time runs a soak: the one that holds its lease ("soak/RUN"). A start or a
// resume takes the lease; it takes it over from a holder that is gone:
//   - on this host (same host name), when no process has the holder's PID or the process
//     that has it started at another time (the PID was reused): at once;
//   - on any host, when the holder stopped renewing and the lease expired: LeaseTTL after the
//     holder's last renewal (a host that crashed, a process frozen or cut off from the store).
//
// Otherwise the soak is still running and the start is refused with ErrStillRunning, naming
// the holder.
const LeaseTTL = 2 * time.Minute

func leaseName(runID string) string { return "soak/" + runID }

// self is this process as the owner of a lease.
var self = sync.OnceValue(func() store.Owner {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return store.Owner{Host: host, PID: os.Getpid(), Started: procStart(os.Getpid())}
})

// lock takes run runID's lease for me, taking it over from a holder that is gone; it returns
// an error wrapping ErrStillRunning, naming the holder, when the holder is alive.
func lock(ctx context.Context, st store.Leases, runID string, me store.Owner) error {
	name := leaseName(runID)
	_, err := st.AcquireLease(ctx, name, me, LeaseTTL)
	var held *store.LeaseHeldError
	if errors.As(err, &held) && gone(held.Lease.Owner, me.Host) {
		_, err = st.TakeOverLease(ctx, name, me, held.Lease.Owner, LeaseTTL)
	}
	if errors.As(err, &held) {
		return fmt.Errorf("soak %s: %w as %s; its lease is renewed until %s", runID, ErrStillRunning,
			held.Lease.Owner, held.Lease.Expires.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("soak %s: take its lease: %w", runID, err)
	}
	return nil
}

// gone reports whether owner is known to be gone: it ran on this host (host) and no process
// has its PID now, or the one that has it started at another time than owner.
func gone(owner store.Owner, host string) bool {
	if owner.Host != host {
		return false
	}
	if !alive(owner.PID) {
		return true
	}
	now := procStart(owner.PID)
	if owner.Started.IsZero() || now.IsZero() {
		return false
	}
	// The boot time the start is computed from can move by a second with clock adjustments;
	// a PID reused within two seconds of the first process's start does not happen.
	d := now.Sub(owner.Started)
	return d > 2*time.Second || d < -2*time.Second
}

// procStart returns when process pid started; the zero time where it cannot be read.
func procStart(pid int) time.Time {
	t, _ := runtime.ProcessStart(pid)
	return t
}

// hold takes the soak's lease (lock) and keeps it renewed until release, which frees it. The
// returned ctx ends, with a cause wrapping store.ErrLeaseLost, when another process took the
// soak over. A resume finds the soak finished after all when it ended while this process
// waited for the lease.
func (o *Options) hold(ctx context.Context) (_ context.Context, release func(), _ error) {
	me := self()
	if err := lock(ctx, o.Store, o.RunID, me); err != nil {
		return nil, nil, err
	}
	lctx, lost := context.WithCancelCause(ctx)
	hctx, stopHold := context.WithCancel(lctx)
	held := make(chan struct{})
	go func() {
		defer close(held)
		holdLease(hctx, o.Store, o.RunID, me, LeaseTTL/4, o.Log, lost)
	}()
	release = func() {
		stopHold()
		<-held
		lost(nil)
		if err := o.Store.ReleaseLease(context.WithoutCancel(ctx), leaseName(o.RunID), me); err != nil {
			o.Log.Warn("soak: release the lease", "err", err)
		}
	}
	if o.Resume != nil && o.StatePath != "" {
		if st, err := ReadState(o.StatePath); err == nil && st.Finished {
			release()
			return nil, nil, fmt.Errorf("soak %s: %w (%s)", o.RunID, ErrFinished, st.Decision)
		}
	}
	return lctx, release, nil
}

// holdLease renews run runID's lease every `every` until ctx ends; when the lease is found
// taken over by another process it calls lost with the error and returns.
func holdLease(ctx context.Context, st store.Leases, runID string, me store.Owner, every time.Duration, log *slog.Logger, lost context.CancelCauseFunc) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := st.RenewLease(ctx, leaseName(runID), me, LeaseTTL)
		if errors.Is(err, store.ErrLeaseLost) {
			lost(fmt.Errorf("another process took the soak over: %w", err))
			return
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("soak: renew the lease", "err", err)
		}
	}
}
