package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ClosedConfig is a closed-loop run: Workers send back to back, each over its own keep-alive
// connection, until Duration has passed or Requests have been sent. Zero fields take the
// defaults in brackets (perf-anchors.md measured the generators with 64 connections).
type ClosedConfig struct {
	// Workers is the number of concurrent requests and connections [64].
	Workers int `json:"workers"`
	// Duration is how long new requests are started [10s].
	Duration time.Duration `json:"duration"`
	// Requests, when positive, also stops the run after that many requests in total.
	Requests int64 `json:"requests,omitempty"`
	// Timeout bounds one request [5s]; the run ends at most Timeout after Duration.
	Timeout time.Duration `json:"timeout"`
	// Mix is what to send [GET /].
	Mix []Request `json:"mix,omitempty"`
	// Seed makes each worker's choice of requests repeatable.
	Seed uint64 `json:"seed"`
}

func (c ClosedConfig) withDefaults() (ClosedConfig, error) {
	if c.Workers == 0 {
		c.Workers = 64
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	switch {
	case c.Workers < 0 || c.Workers > maxConnections:
		return c, fmt.Errorf("%w: workers %d must be in 1..%d", ErrConfig, c.Workers, maxConnections)
	case c.Duration < 0 || c.Timeout < 0 || c.Requests < 0:
		return c, fmt.Errorf("%w: negative duration %v, timeout %v or requests %d", ErrConfig, c.Duration, c.Timeout, c.Requests)
	}
	return c, nil
}

// RunClosed runs a closed loop against t and returns what it measured; latency is from each
// request's send. Use it for maximum throughput only: a closed loop waits for the server, so it
// under-reports latency whenever the server stalls.
func RunClosed(ctx context.Context, cfg ClosedConfig, t Target) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	m, err := newMix(cfg.Mix)
	if err != nil {
		return Summary{}, err
	}
	c, err := newClient(t, m, cfg.Workers)
	if err != nil {
		return Summary{}, err
	}
	defer c.close()

	rec := newRecorder(false)
	start := time.Now()
	stop := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, stop.Add(cfg.Timeout))
	defer cancel()
	var budget atomic.Int64
	budget.Store(cfg.Requests)

	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			cn := c.acquire(runCtx)
			defer cn.release()
			runDeadline, _ := runCtx.Deadline()
			batch := make([]sample, 0, batchSize)
			for {
				if cfg.Requests > 0 && budget.Add(-1) < 0 {
					break
				}
				sent := time.Now()
				if !sent.Before(stop) || runCtx.Err() != nil {
					break
				}
				s := sample{}
				s.status, s.err = cn.do(runCtx, m.pick(rng), earliest(sent.Add(cfg.Timeout), runDeadline))
				s.done = time.Now()
				s.latency = s.done.Sub(sent)
				s.timedOut = s.err != nil && isTimeout(s.err)
				if batch = append(batch, s); len(batch) == cap(batch) {
					rec.add(batch)
					batch = batch[:0]
				}
			}
			rec.add(batch)
		})
	}
	wg.Wait()
	sum := rec.summary(t.label(), start)
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("closed-loop run stopped: %w", err)
	}
	return sum, nil
}
