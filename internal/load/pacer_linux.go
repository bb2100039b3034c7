package load

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

// A Go timer wakes up to ~1 ms late when the process is idle (the runtime's netpoller sleeps in
// whole milliseconds); measured here: 170 µs median, 960 µs p99 for a 5 ms sleep, 840 µs median
// for 250 µs. That lateness would be added to every latency measured from the due time and
// would pull every NEW/OLD ratio towards 1. So the pacer sleeps on a Go timer (cancellable)
// until shortly before the due time and then in nanosleep(2) on its own thread with a 1 ns
// timer slack: 30–40 µs median lateness.

// coarseMargin is how long before the due time the pacer leaves the Go timer for nanosleep:
// more than the Go timer's worst lateness, so the pacer is never late because of it.
const coarseMargin = 2 * time.Millisecond

// prSetTimerSlack is prctl(2)'s PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// pacer sleeps until due times. It must be created and used by one goroutine, which it locks to
// its OS thread for good: the thread ends with that goroutine, taking its timer slack with it.
type pacer struct{ timer *time.Timer }

func newPacer() *pacer {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0) // best effort
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{timer: t}
}

// sleepUntil returns at due, or false as soon as ctx ends while it waits on the Go timer (the
// final nanosleep is at most coarseMargin long).
func (p *pacer) sleepUntil(ctx context.Context, due time.Time) bool {
	if d := time.Until(due) - coarseMargin; d > 0 {
		p.timer.Reset(d)
		select {
		case <-ctx.Done():
			p.timer.Stop()
			return false
		case <-p.timer.C:
		}
	}
	if d := time.Until(due); d > 0 {
		ts := syscall.NsecToTimespec(int64(d))
		for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
		}
	}
	return ctx.Err() == nil
}

func (p *pacer) stop() { p.timer.Stop() }
