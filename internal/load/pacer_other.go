//go:build !linux

package load

import (
	"context"
	"time"
)

// pacer sleeps until due times on a Go timer, which may wake up to ~1 ms late; the Linux
// version is precise to tens of microseconds.
type pacer struct{ timer *time.Timer }

func newPacer() *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{timer: t}
}

// sleepUntil returns at due, or false as soon as ctx ends.
func (p *pacer) sleepUntil(ctx context.Context, due time.Time) bool {
	if d := time.Until(due); d > 0 {
		p.timer.Reset(d)
		select {
		case <-ctx.Done():
			p.timer.Stop()
			return false
		case <-p.timer.C:
		}
	}
	return ctx.Err() == nil
}

func (p *pacer) stop() { p.timer.Stop() }
