package load

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// OpenConfig is an open-loop run. Zero fields take the defaults in brackets, which are the
// seed's load profile (100 requests/s for 30 s over 100 connections).
type OpenConfig struct {
	// Rate is requests per second sent to each target [100].
	Rate float64 `json:"rate"`
	// Duration is the length of the timetable [30s].
	Duration time.Duration `json:"duration"`
	// Connections is the fixed pool of keep-alive connections, and of workers, per target [100].
	// A request due while all are busy waits for one; its latency still runs from its due time.
	Connections int `json:"connections"`
	// Timeout bounds one request [5s]. The run ends at most Timeout after the timetable.
	Timeout time.Duration `json:"timeout"`
	// Mix is what to send [GET /].
	Mix []Request `json:"mix,omitempty"`
	// Seed makes the choice of requests from the mix repeatable.
	Seed uint64 `json:"seed"`
	// MaxLag is the largest acceptable 99th percentile of the generator's own lag [10ms]; see
	// Summary.GeneratorBehind. The default allows for the ≈1 ms timer granularity and the
	// 4–7 % of sends more than 1 ms late that perf-anchors.md measured on this shared 2-core
	// machine, and still catches a generator starved of CPU.
	MaxLag time.Duration `json:"max_lag"`
}

// Limits that keep every run bounded.
const (
	maxRate        = 1e6
	maxRequests    = 10_000_000 // per target and run
	maxConnections = 10_000
	// maxBacklog bounds the requests of one target waiting for a free connection (and the
	// memory they take); a request beyond it is counted unsent.
	maxBacklog = 1 << 16
	// minDispatched is the share of the timetable the generator must dispatch before the run's
	// deadline; below it the run is flagged GeneratorBehind.
	minDispatched = 0.95
)

func (c OpenConfig) withDefaults() (OpenConfig, error) {
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Connections == 0 {
		c.Connections = 100
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxLag == 0 {
		c.MaxLag = 10 * time.Millisecond
	}
	switch {
	case !(c.Rate > 0 && c.Rate <= maxRate):
		return c, fmt.Errorf("%w: rate %v must be in (0, %v] requests/s", ErrConfig, c.Rate, maxRate)
	case c.Duration < 0:
		return c, fmt.Errorf("%w: negative duration %v", ErrConfig, c.Duration)
	case c.Connections < 0 || c.Connections > maxConnections:
		return c, fmt.Errorf("%w: connections %d must be in 1..%d", ErrConfig, c.Connections, maxConnections)
	case c.Timeout < 0:
		return c, fmt.Errorf("%w: negative timeout %v", ErrConfig, c.Timeout)
	case c.MaxLag < 0:
		return c, fmt.Errorf("%w: negative max lag %v", ErrConfig, c.MaxLag)
	}
	if n := c.perTarget(); n > maxRequests || n < 1 {
		return c, fmt.Errorf("%w: %v requests/s for %v is %d requests; need 1..%d", ErrConfig, c.Rate, c.Duration, n, maxRequests)
	}
	return c, nil
}

// perTarget is the number of requests of the timetable for each target: those due before
// Duration has passed.
func (c OpenConfig) perTarget() int64 {
	return int64(math.Ceil(c.Rate*c.Duration.Seconds() - 1e-9))
}

// RunOpen runs an open-loop timetable against t: request i is due at start + i/Rate. The
// summary is returned with the error ErrGeneratorBehind when the generator did not keep its
// timetable; on a cancelled ctx the error is ctx's.
func RunOpen(ctx context.Context, cfg OpenConfig, t Target) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	m, err := newMix(cfg.Mix)
	if err != nil {
		return Summary{}, err
	}
	c, err := newClient(t, m, cfg.Connections)
	if err != nil {
		return Summary{}, err
	}
	defer c.close()
	sums, err := runOpen(ctx, cfg, m, []*client{c})
	return sums[0], err
}

// job is one request of the timetable, handed from the pacer to a worker.
type job struct {
	due time.Time
	mix int
}

// runOpen runs one timetable over the clients: request i goes to clients[i % len(clients)],
// and each group of len(clients) consecutive requests sends the same mix entry, so every
// client gets the same requests at the same rate. cfg has its defaults.
func runOpen(ctx context.Context, cfg OpenConfig, m *mix, clients []*client) ([]Summary, error) {
	k := len(clients)
	perTarget := cfg.perTarget()
	total := perTarget * int64(k)
	totalRate := cfg.Rate * float64(k)

	recs := make([]*recorder, k)
	queues := make([]chan job, k)
	for i := range clients {
		recs[i] = newRecorder(true)
		queues[i] = make(chan job, min(perTarget, maxBacklog))
	}

	// The timetable starts a moment from now, when the workers are waiting for it.
	start := time.Now().Add(time.Millisecond)
	deadline := start.Add(cfg.Duration + cfg.Timeout)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var wg sync.WaitGroup
	for i, c := range clients {
		for range cfg.Connections {
			wg.Go(func() { openWorker(runCtx, c, queues[i], recs[i], cfg.Timeout) })
		}
	}

	// The pacer, on its own goroutine (it locks its OS thread): dispatch request i at its due
	// time. Requests that became due while it was late are dispatched at once; their lateness
	// is recorded as generator lag. The pacer never waits for a worker: a request that finds
	// maxBacklog requests of its target already waiting for a connection is counted unsent.
	dispatched, overflow := make([]int64, k), make([]int64, k)
	paced := make(chan struct{})
	go func() {
		defer close(paced)
		p := newPacer()
		defer p.stop()
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_10ad))
		cur := 0
		for i := range total {
			due := start.Add(time.Duration(float64(i) * float64(time.Second) / totalRate))
			if !p.sleepUntil(runCtx, due) {
				break
			}
			tgt := int(i % int64(k))
			if tgt == 0 {
				cur = m.pick(rng)
			}
			select {
			case queues[tgt] <- job{due: due, mix: cur}:
			default:
				overflow[tgt]++
			}
			dispatched[tgt]++
		}
		for _, q := range queues {
			close(q)
		}
	}()
	<-paced
	wg.Wait()

	for i, r := range recs {
		r.addUnsent(overflow[i], "not sent: too many requests waiting for a connection")
		r.addUnsent(perTarget-dispatched[i], "not dispatched before the run's deadline: the generator fell behind")
	}

	sums := make([]Summary, k)
	lag := newHist()
	var allDispatched int64
	for i, r := range recs {
		sums[i] = r.summary(clients[i].target.label(), start)
		lag.Merge(r.lag)
		allDispatched += dispatched[i]
	}
	if err := ctx.Err(); err != nil {
		return sums, fmt.Errorf("open-loop run stopped: %w", err)
	}
	if behind, why := generatorBehind(lag, cfg.MaxLag, allDispatched, total); behind {
		for i := range sums {
			sums[i].GeneratorBehind, sums[i].BehindReason = true, why
		}
		return sums, fmt.Errorf("%w: %s", ErrGeneratorBehind, why)
	}
	return sums, nil
}

// generatorBehind applies the rule of Summary.GeneratorBehind to the lag histogram of all
// targets and the number of requests dispatched of those scheduled.
func generatorBehind(lag *hdrhistogram.Histogram, maxLag time.Duration, dispatched, scheduled int64) (bool, string) {
	if scheduled > 0 && float64(dispatched) < minDispatched*float64(scheduled) {
		return true, fmt.Sprintf("dispatched %d of %d scheduled requests (%.1f %%, need %.0f %%) before the run's deadline",
			dispatched, scheduled, 100*float64(dispatched)/float64(scheduled), 100*minDispatched)
	}
	if p99 := histDuration(lag.ValueAtPercentile(99)); lag.TotalCount() > 0 && p99 > maxLag {
		return true, fmt.Sprintf("generator lag p99 %v exceeds %v (max %v over %d sends)",
			p99, maxLag, histDuration(lag.Max()), lag.TotalCount())
	}
	return false, ""
}

// openWorker sends the jobs of q over one connection of c until q is closed, timing each
// from its due time.
func openWorker(ctx context.Context, c *client, q <-chan job, rec *recorder, timeout time.Duration) {
	cn := c.acquire(ctx)
	defer cn.release()
	runDeadline, _ := ctx.Deadline()
	batch := make([]sample, 0, batchSize)
	free := time.Now() // when this worker last became free to send
	for j := range q {
		now := time.Now()
		// The context's deadline timer may fire a little after the deadline; until it does,
		// every request would fail at once, so the clock decides too.
		if ctx.Err() != nil || !now.Before(runDeadline) {
			batch = append(batch, sample{unsent: true})
		} else {
			ready := j.due
			if free.After(ready) {
				ready = free
			}
			s := sample{late: now.Sub(j.due), lag: now.Sub(ready)}
			s.status, s.err = cn.do(ctx, j.mix, earliest(now.Add(timeout), runDeadline))
			s.done = time.Now()
			s.latency = s.done.Sub(j.due)
			s.timedOut = s.err != nil && isTimeout(s.err)
			batch = append(batch, s)
			free = s.done
		}
		if len(batch) == cap(batch) {
			rec.add(batch)
			batch = batch[:0]
		}
	}
	rec.add(batch)
}

// earliest returns the earlier of a and b, ignoring a zero b.
func earliest(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
