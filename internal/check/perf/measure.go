package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"sync"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/load"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Measurement settings the policy does not set.
const (
	// coldProbe is the longest health-probe interval of a cold start: the start time is only
	// known to that resolution.
	coldProbe = 5 * time.Millisecond
	// sampleEvery is the RSS sampling period during a round.
	sampleEvery = 100 * time.Millisecond
	// scrapeTimeout bounds one read of the Prometheus endpoint.
	scrapeTimeout = 5 * time.Second
	// maxScrape bounds the size of the Prometheus answer read.
	maxScrape = 16 << 20
)

// measured is every metric's series, or the error that kept a metric from being measured.
type measured struct {
	s    [numMetrics]Series
	errs [numMetrics]error
}

// measure runs the cold starts, then OLD and NEW side by side. An error means nothing could be
// measured.
func (s *session) measure(ctx context.Context, env *check.Env) (*measured, error) {
	var ms measured
	for m := range numMetrics {
		ms.s[m].Metric = m
	}
	h := s.app.Health
	if h.Interval <= 0 || h.Interval > coldProbe {
		h.Interval = coldProbe
	}
	cold, err := s.coldStarts(ctx, env, h)
	if err != nil {
		return nil, err
	}
	ms.s[ColdStart] = cold
	if s.app.HostNetwork {
		err := errors.New("app.hostNetwork: OLD and NEW cannot listen on the same host port at once, so they cannot run side by side; publish the port instead")
		for m := ColdStart + 1; m < numMetrics; m++ {
			ms.errs[m] = err
		}
		return &ms, nil
	}
	if err := s.sideBySide(ctx, env, h, &ms); err != nil {
		return nil, err
	}
	return &ms, nil
}

// coldStarts times create → healthy, alternating OLD and NEW.
func (s *session) coldStarts(ctx context.Context, env *check.Env, h config.Health) (Series, error) {
	ser := Series{Metric: ColdStart, Unit: "ms", Total: s.p.ColdStarts,
		Source: fmt.Sprintf("container create → first healthy response (%s), %d starts per image, alternating", healthDesc(h), s.p.ColdStarts)}
	for i := range s.p.ColdStarts {
		var pair [2]float64 // old, new
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			img, role := env.Old, "perf-cold-old"
			if k == 1 {
				img, role = env.New, "perf-cold-new"
			}
			d, err := s.coldStart(ctx, img, role, h)
			if err != nil {
				return ser, fmt.Errorf("cold start %d of %s: %w", i+1, role[len("perf-cold-"):], err)
			}
			pair[k] = float64(d) / float64(time.Millisecond)
		}
		ser.Old, ser.New = append(ser.Old, pair[0]), append(ser.New, pair[1])
	}
	return ser, nil
}

func healthDesc(h config.Health) string {
	if h.HTTP != "" {
		return "GET " + h.HTTP
	}
	return "the app's health probe"
}

func (s *session) coldStart(ctx context.Context, img *image.Image, role string, h config.Health) (time.Duration, error) {
	a, err := launch.Start(ctx, s.rt, s.ld, img, s.app, launch.Options{RunID: s.runID, Role: role})
	if err != nil {
		return 0, err
	}
	defer func() { _ = a.Instance.Stop(context.WithoutCancel(ctx)) }()
	return a.WaitHealthy(ctx, h)
}

// side is one running image of the side-by-side phase.
type side struct {
	app    *launch.App
	target load.Target
}

// sideBySide starts OLD and NEW together and runs the paired rounds.
func (s *session) sideBySide(ctx context.Context, env *check.Env, h config.Health, ms *measured) error {
	if err := launch.Together(s.app); err != nil {
		return err
	}
	var sides [2]side
	defer func() {
		for _, sd := range sides {
			if sd.app != nil {
				_ = sd.app.Instance.Stop(context.WithoutCancel(ctx))
			}
		}
	}()
	for k, img := range []*image.Image{env.Old, env.New} {
		role := []string{"perf-old", "perf-new"}[k]
		a, err := launch.Start(ctx, s.rt, s.ld, img, s.app, launch.Options{RunID: s.runID, Role: role})
		if err != nil {
			return err
		}
		sides[k].app = a
		if _, err := a.WaitHealthy(ctx, h); err != nil {
			return fmt.Errorf("%s: %w", role, err)
		}
		if a.Endpoint == "" {
			return fmt.Errorf("%s: %w", role, launch.ErrNoPort)
		}
		sides[k].target = load.Target{Name: role[len("perf-"):], BaseURL: "http://" + a.Endpoint}
	}
	statsErr := error(nil)
	var idle [2]runtime.Stats
	for k := range sides {
		st, err := sides[k].app.Instance.Stats(ctx)
		if err != nil {
			statsErr = err
			break
		}
		idle[k] = st
	}
	if statsErr != nil && !errors.Is(statsErr, runtime.ErrStatsUnavailable) {
		return fmt.Errorf("read container statistics: %w", statsErr)
	}

	mix := loadMix(s.p.Mix)
	var rounds []roundObs
	for r := range s.p.Rounds {
		ro, err := s.round(ctx, env, r, sides, mix, statsErr == nil)
		if err != nil {
			return err
		}
		rounds = append(rounds, ro)
	}
	var after [2]runtime.Stats
	if statsErr == nil {
		for k := range sides {
			var err error
			if after[k], err = sides[k].app.Instance.Stats(ctx); err != nil {
				return fmt.Errorf("read container statistics: %w", err)
			}
		}
	}
	s.series(rounds, idle, after, statsErr, ms)
	return nil
}

// roundObs is what one paired round observed of OLD (index 0) and NEW (1).
type roundObs struct {
	behind bool
	sum    [2]load.Summary
	cpu    [2]time.Duration // CPU time used during the round
	rss    [2]float64       // median RSS during the round, bytes
	gc     [2]gcTotals      // GC totals during the round (differences)
	peak   [2]float64       // successful responses per second in the closed-loop burst
	gcOK   bool
}

func (s *session) round(ctx context.Context, env *check.Env, r int, sides [2]side, mix []load.Request, withStats bool) (roundObs, error) {
	var ro roundObs
	cfg := load.RoundsConfig{Rounds: 1, Open: load.OpenConfig{
		Rate: s.p.Rate, Duration: s.p.RoundDuration, Connections: s.p.Connections, Mix: mix, Seed: uint64(r),
	}}
	// RunRounds numbers its only round 0; the logger says which round of the layer it is.
	cfg.Logger = env.Log.With("perf_round", r+1)
	if r == 0 {
		cfg.Warmup = s.p.Warmup
	}
	var before [2]runtime.Stats
	var gcBefore [2]gcTotals
	gcErr := error(nil)
	if s.p.MetricsPath != "" {
		gcBefore, gcErr = s.scrapeBoth(ctx, sides)
	}
	if withStats {
		for k := range sides {
			st, err := sides[k].app.Instance.Stats(ctx)
			if err != nil {
				return ro, fmt.Errorf("round %d: read container statistics: %w", r+1, err)
			}
			before[k] = st
		}
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var samples [2][]float64
	if withStats {
		wg.Go(func() { samples = sampleRSS(sctx, sides) })
	}
	// Round r goes OLD first when r is even, NEW first when odd: RunRounds' round 0 always
	// starts with its first target.
	a, b := sides[0].target, sides[1].target
	if r%2 == 1 {
		a, b = b, a
	}
	rs, err := load.RunRounds(ctx, cfg, a, b)
	stop()
	wg.Wait()
	if err != nil {
		return ro, fmt.Errorf("round %d: %w", r+1, err)
	}
	if len(rs) != 1 {
		return ro, fmt.Errorf("round %d: the generator returned %d rounds", r+1, len(rs))
	}
	ro.behind = rs[0].GeneratorBehind
	ro.sum = [2]load.Summary{rs[0].A, rs[0].B}
	if r%2 == 1 {
		ro.sum[0], ro.sum[1] = ro.sum[1], ro.sum[0]
	}
	if withStats {
		for k := range sides {
			st, err := sides[k].app.Instance.Stats(ctx)
			if err != nil {
				return ro, fmt.Errorf("round %d: read container statistics: %w", r+1, err)
			}
			ro.cpu[k] = st.CPU - before[k].CPU
			ro.rss[k] = median(samples[k])
		}
	}
	if s.p.MetricsPath != "" && gcErr == nil {
		gcAfter, err := s.scrapeBoth(ctx, sides)
		if err == nil {
			for k := range sides {
				ro.gc[k] = gcTotals{Name: gcAfter[k].Name, Sum: gcAfter[k].Sum - gcBefore[k].Sum, Count: gcAfter[k].Count - gcBefore[k].Count}
			}
			ro.gcOK = true
		}
	}
	// Then the capacity burst, after everything of the paced part was read so that it changes
	// none of it: each image driven as hard as the connections go, in the round's order.
	for i := range sides {
		k := i
		if r%2 == 1 {
			k = 1 - i
		}
		sum, err := load.RunClosed(ctx, load.ClosedConfig{Workers: s.p.Connections, Duration: s.p.Capacity, Mix: mix, Seed: uint64(r)}, sides[k].target)
		if err != nil {
			return ro, fmt.Errorf("round %d: capacity of %s: %w", r+1, sides[k].target.Name, err)
		}
		ro.peak[k] = sum.Throughput
	}
	return ro, nil
}

// sampleRSS samples both containers' RSS every sampleEvery until ctx ends.
func sampleRSS(ctx context.Context, sides [2]side) [2][]float64 {
	var out [2][]float64
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		for k := range sides {
			if st, err := sides[k].app.Instance.Stats(ctx); err == nil {
				out[k] = append(out[k], float64(st.RSS))
			}
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

func (s *session) scrapeBoth(ctx context.Context, sides [2]side) ([2]gcTotals, error) {
	var out [2]gcTotals
	for k := range sides {
		g, err := scrape(ctx, sides[k].target.BaseURL+s.p.MetricsPath)
		if err != nil {
			return out, err
		}
		out[k] = g
	}
	return out, nil
}

// scrape reads the GC totals from a Prometheus endpoint.
func scrape(ctx context.Context, url string) (gcTotals, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return gcTotals{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gcTotals{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return gcTotals{}, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScrape))
	if err != nil {
		return gcTotals{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	return parseGC(b), nil
}

func loadMix(mix []config.PerfRequest) []load.Request {
	out := make([]load.Request, 0, len(mix))
	for _, r := range mix {
		lr := load.Request{Method: r.Method, Path: r.Path, Weight: r.Weight}
		if r.Body != "" {
			lr.Body = []byte(r.Body)
		}
		if len(r.Headers) > 0 {
			lr.Headers = http.Header{}
			for k, v := range r.Headers {
				lr.Headers[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
			}
		}
		out = append(out, lr)
	}
	return out
}

// series turns the rounds into the series of the load metrics.
func (s *session) series(rounds []roundObs, idle, after [2]runtime.Stats, statsErr error, ms *measured) {
	n := len(rounds)
	rate := fmt.Sprintf("%d paired rounds of %s at %g req/s per image, OLD and NEW side by side (cpus %g, memory %q each), requests alternating",
		n, s.p.RoundDuration, s.p.Rate, s.app.CPUs, s.app.Memory)
	ms.s[LatencyP95] = Series{Metric: LatencyP95, Unit: "ms", Source: "p95 latency from the due send time; " + rate}
	ms.s[Throughput] = Series{Metric: Throughput, Unit: "req/s", Source: fmt.Sprintf("maximum throughput: successful responses per second of a %s closed loop over %d connections per image after each round, OLD and NEW one after the other in the round's order; ",
		s.p.Capacity, s.p.Connections) + rate}
	ms.s[RSS] = Series{Metric: RSS, Unit: "MiB", Source: "median cgroup anonymous memory, sampled every 100 ms; " + rate}
	ms.s[CPUPerRequest] = Series{Metric: CPUPerRequest, Unit: "µs", Source: "cgroup CPU time / successful requests; " + rate}
	ms.s[GCPause] = Series{Metric: GCPause, Unit: "µs"}
	if s.p.MetricsPath != "" {
		ms.s[GCPause].Source = "mean GC pause per cycle from " + s.p.MetricsPath + "; " + rate
	}
	for m := LatencyP95; m < numMetrics; m++ {
		ms.s[m].Total = n
	}
	if statsErr != nil {
		ms.s[RSS].Skip = "the containers' cgroups are not readable from this host: " + statsErr.Error()
		ms.s[CPUPerRequest].Skip = ms.s[RSS].Skip
	}
	if s.p.MetricsPath == "" {
		ms.s[GCPause].Skip = "no Prometheus endpoint configured (perf.metricsPath)"
	}
	add := func(m Metric, o, nw float64, ok bool, why string) {
		sr := &ms.s[m]
		if !ok || !(o > 0 && nw > 0) {
			sr.Dropped++
			sr.DropWhy = why
			return
		}
		sr.Old, sr.New = append(sr.Old, o), append(sr.New, nw)
	}
	gcName, gcCycles := "", 0.0
	for _, ro := range rounds {
		if ro.behind {
			for m := LatencyP95; m < numMetrics; m++ {
				ms.s[m].Behind++
			}
			continue
		}
		o, nw := ro.sum[0], ro.sum[1]
		add(LatencyP95, ms1(o.P95), ms1(nw.P95), true, "no latency measured")
		add(Throughput, ro.peak[0], ro.peak[1], true, "no successful response in the capacity burst")
		if statsErr == nil {
			add(RSS, ro.rss[0]/(1<<20), ro.rss[1]/(1<<20), true, "no RSS sample")
			okO, okN := o.Requests-o.Errors, nw.Requests-nw.Errors
			add(CPUPerRequest, perReq(ro.cpu[0], okO), perReq(ro.cpu[1], okN), okO > 0 && okN > 0, "no successful request")
		}
		if s.p.MetricsPath != "" {
			g0, g1 := ro.gc[0], ro.gc[1]
			ok := ro.gcOK && g0.Count > 0 && g1.Count > 0
			if ro.gcOK {
				gcCycles += g0.Count + g1.Count
			}
			if g0.Name != "" {
				gcName = g0.Name
			}
			why := "no GC cycle in OLD or NEW during the round, or the endpoint could not be read"
			if ok {
				add(GCPause, 1e6*g0.Sum/g0.Count, 1e6*g1.Sum/g1.Count, true, why)
			} else {
				add(GCPause, 0, 0, false, why)
			}
		}
	}
	if s.p.MetricsPath != "" && gcCycles == 0 && len(ms.s[GCPause].Old) == 0 {
		ms.s[GCPause].Skip = fmt.Sprintf("neither image ran a GC cycle during the rounds (or %s could not be read): no pause to compare", s.p.MetricsPath)
	}
	if gcName != "" {
		ms.s[GCPause].Source = gcName + " " + ms.s[GCPause].Source
	}
	if statsErr == nil {
		mib := func(v int64) string { return num(float64(v) / (1 << 20)) }
		ms.s[RSS].Extra = [][]string{
			{"idle before", mib(idle[0].RSS), mib(idle[1].RSS), ""},
			{"right after the rounds", mib(after[0].RSS), mib(after[1].RSS), ""},
			{"peak usage", mib(after[0].Peak), mib(after[1].Peak), ""},
		}
	}
	var errs [2]int64
	for _, ro := range rounds {
		errs[0] += ro.sum[0].Errors
		errs[1] += ro.sum[1].Errors
	}
	ms.s[Throughput].Extra = [][]string{{"errors", fmt.Sprint(errs[0]), fmt.Sprint(errs[1]), ""}}
}

func ms1(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perReq(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpu) / float64(time.Microsecond) / float64(n)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
