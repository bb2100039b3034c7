// Package load is Layer 4's HTTP load generator: an open-loop generator on a fixed timetable
// for latency, a closed loop for maximum throughput, and paired rounds that drive the OLD and
// the NEW image at the same time so that internal/stats can compare them.
//
// Design, following shared/reference/perf-anchors.md (measured on this machine):
//
//   - Open loop (RunOpen): request i is due at start + i/rate and its latency is measured from
//     that due time, not from when it was sent, so a server stall cannot hide behind a generator
//     that waits for it (coordinated omission). How late each send was is recorded too, and a
//     run in which the generator itself could not keep its timetable is flagged (see
//     Summary.GeneratorBehind for the rule).
//   - Closed loop (RunClosed): W workers send back to back; for maximum throughput only, never
//     for latency.
//   - Paired rounds (RunRounds): one timetable alternates requests between the two targets
//     (ABAB…, BABA… in the next round), so both see the same co-tenant load; the per-round ratio
//     NEW/OLD is what internal/stats judges (§2c: ≈9 % spread per round against 35–45 % for the
//     p95 of separate runs).
//
// Every run is bounded in time (duration + request timeout) and in count, and honours its
// context. Each target gets a fixed pool of keep-alive HTTP/1.1 connections, each owned by one
// worker that writes a request serialised in advance and reads the response itself: no proxy
// from the environment, no compression, redirects not followed, 2 s to connect. That costs
// the generator a fraction of what http.Transport does (see client). The open loop's pacer
// sleeps precisely (see pacer_linux.go), since its lateness adds to every latency.
// Latencies are kept in HDR histograms (1 µs … 60 s, 3 significant digits).
//
// How fast the generator is against wrk and hey on this machine is measured by
//
//	go test ./internal/load -run '^$' -bench Compare -benchtime 1x -args -compare
package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Errors callers branch on.
var (
	// ErrConfig reports a configuration that cannot be run.
	ErrConfig = errors.New("load: bad configuration")
	// ErrGeneratorBehind reports a run whose generator did not keep its own timetable; its
	// measurements understate the server's latency and must not be compared.
	ErrGeneratorBehind = errors.New("load: generator fell behind its schedule")
)

// Target is one HTTP server under load.
type Target struct {
	// Name labels the target in summaries ("old", "new"); empty means BaseURL.
	Name string `json:"name"`
	// BaseURL is scheme://host:port with an optional path prefix; request paths are appended.
	BaseURL string `json:"base_url"`
}

func (t Target) label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.BaseURL
}

// Request is one kind of request in the mix.
type Request struct {
	// Method defaults to GET.
	Method string `json:"method,omitempty"`
	// Path (with an optional query) is appended to the target's BaseURL; it defaults to "/".
	Path string `json:"path,omitempty"`
	Body []byte `json:"body,omitempty"`
	// Headers are sent with every request; a "Host" entry sets the request's host.
	Headers http.Header `json:"headers,omitempty"`
	// Weight is the relative frequency of this request in the mix; 0 counts as 1, so a mix
	// without weights is uniform. It must not be negative.
	Weight int `json:"weight,omitempty"`
}

// defaultMix is what a run sends when its Mix is empty.
var defaultMix = []Request{{Method: http.MethodGet, Path: "/"}}

// mix chooses requests by weight.
type mix struct {
	reqs []Request
	cum  []int // cumulative weights
}

func newMix(reqs []Request) (*mix, error) {
	if len(reqs) == 0 {
		reqs = defaultMix
	}
	m := &mix{reqs: reqs, cum: make([]int, len(reqs))}
	total := 0
	for i, r := range reqs {
		w := r.Weight
		switch {
		case w < 0:
			return nil, fmt.Errorf("%w: request %d (%s %s): negative weight %d", ErrConfig, i, r.Method, r.Path, w)
		case w == 0:
			w = 1
		}
		if total > 1<<40 {
			return nil, fmt.Errorf("%w: weights too large", ErrConfig)
		}
		total += w
		m.cum[i] = total
	}
	return m, nil
}

// pick returns the index of a request chosen with probability weight/total.
func (m *mix) pick(rng *rand.Rand) int {
	if len(m.cum) == 1 {
		return 0
	}
	v := rng.IntN(m.cum[len(m.cum)-1])
	return sort.SearchInts(m.cum, v+1)
}

// Summary is what one run measured at one target. Durations are in nanoseconds in JSON.
type Summary struct {
	Target string `json:"target"`
	// Requests counts every request of the run: in the open loop every request of the timetable
	// (sent or not), in the closed loop every request sent.
	Requests int64 `json:"requests"`
	// Errors counts failed requests: transport errors, timeouts, statuses outside 2xx/3xx, and
	// Unsent ones.
	Errors int64 `json:"errors"`
	// Unsent counts open-loop requests that were due but never sent: all connections stayed
	// busy until the run's deadline or 65536 requests were already waiting for one (the server
	// is too slow for the rate), or the generator never dispatched them (then GeneratorBehind
	// is set).
	Unsent int64 `json:"unsent,omitempty"`
	// Timeouts counts requests cut by the request timeout or the run's deadline.
	Timeouts    int64         `json:"timeouts,omitempty"`
	StatusCodes map[int]int64 `json:"status_codes,omitempty"`
	// ErrorSamples keeps the first few distinct error messages.
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Duration runs from the start of the run to the last completed request.
	Duration time.Duration `json:"duration_ns"`
	// Throughput is successful (2xx/3xx) responses per second of Duration.
	Throughput float64 `json:"throughput"`
	// Latency of every request that got a response (any status) or timed out; in the open loop
	// from its due time, in the closed loop from its send. Transport errors that are not
	// timeouts (refused, reset) are not latencies and only count as errors.
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
	// SendLatenessP99 (open loop) is the 99th percentile of send time − due time. It includes
	// waiting for a free connection, i.e. the server's slowness, which the latency already
	// contains.
	SendLatenessP99 time.Duration `json:"send_lateness_p99_ns,omitempty"`
	// GeneratorLagP99 (open loop) is the 99th percentile of the generator's own lateness: send
	// time − the moment the request was both due and had a free connection. It is timer
	// granularity (≈1 ms here for sub-millisecond intervals), scheduling of the generator's
	// goroutines, and CPU starvation of the generator.
	GeneratorLagP99 time.Duration `json:"generator_lag_p99_ns,omitempty"`
	// GeneratorBehind (open loop) marks a run whose generator did not keep its timetable: its
	// lag p99 (over all targets of the run) exceeded OpenConfig.MaxLag, or it dispatched fewer
	// than 95 % of the scheduled requests before the run's deadline. BehindReason has the
	// figures. Such a run understates latency and must not be compared.
	GeneratorBehind bool   `json:"generator_behind,omitempty"`
	BehindReason    string `json:"behind_reason,omitempty"`
}

// sample is the outcome of one request, handed from a worker to its recorder in batches.
type sample struct {
	latency  time.Duration
	late     time.Duration // open loop: send − due
	lag      time.Duration // open loop: send − max(due, connection free)
	status   int
	err      error
	unsent   bool
	timedOut bool
	done     time.Time
}

// batchSize is how many samples a worker collects before taking its recorder's lock.
const batchSize = 64

// maxErrorSamples is how many distinct error messages a summary keeps.
const maxErrorSamples = 5

// histogram bounds in microseconds: 1 µs … 60 s, 3 significant digits.
const (
	histLowest  = 1
	histHighest = 60_000_000
	histDigits  = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histLowest, histHighest, histDigits) }

func recordDuration(h *hdrhistogram.Histogram, d time.Duration) {
	v := min(max(d.Microseconds(), 0), histHighest)
	_ = h.RecordValue(v) // cannot fail: v is within the histogram's range
}

func histDuration(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// recorder collects the samples of one target.
type recorder struct {
	mu                             sync.Mutex
	latency, late, lag             *hdrhistogram.Histogram // late and lag nil in the closed loop
	requests, errs, unsent, tmouts int64
	ok                             int64
	statuses                       map[int]int64
	errMsgs                        []string
	last                           time.Time
}

func newRecorder(open bool) *recorder {
	r := &recorder{latency: newHist(), statuses: map[int]int64{}}
	if open {
		r.late, r.lag = newHist(), newHist()
	}
	return r
}

func (r *recorder) add(batch []sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batch {
		s := &batch[i]
		r.requests++
		if s.unsent {
			r.unsent++
			r.errs++
			r.errMsg("not sent before the run's deadline: all connections busy")
			continue
		}
		if r.late != nil {
			recordDuration(r.late, s.late)
			recordDuration(r.lag, s.lag)
		}
		if s.done.After(r.last) {
			r.last = s.done
		}
		switch {
		case s.err != nil:
			r.errs++
			if s.timedOut {
				r.tmouts++
				recordDuration(r.latency, s.latency)
			}
			r.errMsg(s.err.Error())
		case s.status < 200 || s.status >= 400:
			r.errs++
			r.statuses[s.status]++
			recordDuration(r.latency, s.latency)
			r.errMsg(fmt.Sprintf("HTTP %d", s.status))
		default:
			r.ok++
			r.statuses[s.status]++
			recordDuration(r.latency, s.latency)
		}
	}
}

// addUnsent counts n requests of the timetable that were never sent, for the reason why.
func (r *recorder) addUnsent(n int64, why string) {
	if n <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests += n
	r.unsent += n
	r.errs += n
	r.errMsg(why)
}

func (r *recorder) errMsg(m string) {
	if len(r.errMsgs) < maxErrorSamples && !slices.Contains(r.errMsgs, m) {
		r.errMsgs = append(r.errMsgs, m)
	}
}

// summary returns what r collected; start is when the run began.
func (r *recorder) summary(name string, start time.Time) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{
		Target:       name,
		Requests:     r.requests,
		Errors:       r.errs,
		Unsent:       r.unsent,
		Timeouts:     r.tmouts,
		ErrorSamples: append([]string(nil), r.errMsgs...),
		Mean:         time.Duration(r.latency.Mean() * float64(time.Microsecond)),
		P50:          histDuration(r.latency.ValueAtPercentile(50)),
		P90:          histDuration(r.latency.ValueAtPercentile(90)),
		P95:          histDuration(r.latency.ValueAtPercentile(95)),
		P99:          histDuration(r.latency.ValueAtPercentile(99)),
		Max:          histDuration(r.latency.Max()),
	}
	if len(r.statuses) > 0 {
		s.StatusCodes = maps.Clone(r.statuses)
	}
	if r.late != nil {
		s.SendLatenessP99 = histDuration(r.late.ValueAtPercentile(99))
		s.GeneratorLagP99 = histDuration(r.lag.ValueAtPercentile(99))
	}
	end := r.last
	if end.IsZero() {
		end = time.Now()
	}
	s.Duration = end.Sub(start)
	if s.Duration > 0 {
		s.Throughput = float64(r.ok) / s.Duration.Seconds()
	}
	return s
}

// isTimeout reports whether err is a request timeout or the run's deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
