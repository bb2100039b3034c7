package soak

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/stats"
)

// How the series are read (see Analyze).
const (
	// trendAlpha gives a 90 % interval for the slope: a one-sided 95 % bound that it is above 0.
	trendAlpha = 0.10
	// minTrend is the fewest samples after the warm-up a trend is drawn from.
	minTrend = 6
	// minStop is the fewest samples after the warm-up on which a memory leak stops the soak,
	// and then only when the lowest value of their last third is above the highest of their
	// first: a window shorter than one GC cycle sees a ramp, not a leak.
	minStop = 12
	// maxTrendPoints bounds the points of a trend (the fit is O(n² log n)): longer series are
	// thinned to the medians of equal buckets.
	maxTrendPoints = 360
	// floorShare is how much of the growth the trend claims the floor (the lowest values of the
	// last quarter against the first) must show too, for a rise to count as a leak: a GC
	// sawtooth tilts the median of pairwise slopes, but its floor stays put.
	floorShare = 0.5
	// minFDLeak and minConnLeak are the smallest projected increases counted as a leak.
	minFDLeak   = 16
	minConnLeak = 32
)

// Window is the soak's time frame.
type Window struct {
	// Warmup is left out of the trends.
	Warmup time.Duration
	// Duration is the whole soak: trends are projected to its end.
	Duration time.Duration
}

// Finding is the judgement of one metric of one image.
type Finding struct {
	Status    check.Status `json:"status"`
	Message   string       `json:"message"`
	Measured  string       `json:"measured,omitempty"`
	Threshold string       `json:"threshold,omitempty"`
	// Stop is true when a stop limit has been reached: the soak ends at once.
	Stop bool `json:"stop,omitempty"`
	// Trend is the fit after the warm-up, when there was one.
	Trend *stats.Trend `json:"trend,omitempty"`
	// Growth is the growth projected over the soak: percent of the level after the warm-up
	// for memory, in units (FDs, connections) otherwise.
	Growth float64 `json:"growth"`
	// Leak is true when the series rises with confidence and its floor rises with it.
	Leak bool `json:"leak,omitempty"`
}

// Analysis is the judgement of every metric of one image.
type Analysis struct {
	Memory, FDs, Conns, CPU, Health, Errors Finding
}

// Findings lists the findings by check name, in report order.
func (a *Analysis) Findings() []NamedFinding {
	return []NamedFinding{{"memory", &a.Memory}, {"fds", &a.FDs}, {"connections", &a.Conns},
		{"cpu", &a.CPU}, {"health", &a.Health}, {"errors", &a.Errors}}
}

// NamedFinding is a finding and the name of its check.
type NamedFinding struct {
	Check string
	*Finding
}

// Stop returns the first finding that reached a stop limit.
func (a *Analysis) Stop() (NamedFinding, bool) {
	for _, f := range a.Findings() {
		if f.Stop {
			return f, true
		}
	}
	return NamedFinding{}, false
}

// Analyze judges the recording of one image after elapsed of soak. cpus is the CPU limit of
// the container (0: the host's CPUs are its limit, given as hostCPUs).
func Analyze(r *Recording, w Window, l config.SoakLimits, cpus float64) Analysis {
	return Analysis{
		Memory: judgeMemory(&r.RSS, w, l),
		FDs:    judgeCount(&r.FDs, w, "open file descriptors", l.FDs, minFDLeak, check.StatusFail),
		Conns:  judgeCount(&r.Conns, w, "TCP connections", l.Connections, minConnLeak, check.StatusFail),
		CPU:    judgeCPU(&r.CPU, w, l, cpus),
		Health: judgeHealth(&r.Health, &r.Running, r.Exit, l),
		Errors: judgeErrors(&r.ErrorLines, l),
	}
}

// after returns the points of s at or after the warm-up.
func after(s *Series, warmup time.Duration) Series {
	i, _ := slices.BinarySearch(s.T, warmup.Seconds())
	return Series{T: s.T[i:], V: s.V[i:]}
}

// thin returns s, or the medians of maxTrendPoints equal buckets of it.
func thin(s Series) Series {
	n := len(s.T)
	if n <= maxTrendPoints {
		return s
	}
	var out Series
	for b := range maxTrendPoints {
		lo, hi := b*n/maxTrendPoints, (b+1)*n/maxTrendPoints
		out.add(medianOf(s.T[lo:hi]), medianOf(s.V[lo:hi]))
	}
	return out
}

func medianOf(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// rise is a trend after the warm-up, and how far its floor rose.
type rise struct {
	tr           stats.Trend
	level        float64 // fitted level where the judged window starts
	seen         float64 // fitted rise from the window's start to the last sample
	floor        float64 // lowest of the last quarter − lowest of the first quarter
	leak         bool
	clear        bool // enough samples, and the last third entirely above the first
	tFirst, tEnd float64
}

// fit draws the trend of s after the warm-up; ok is false with too few points.
func fit(s *Series, w Window) (rise, bool) {
	p := after(s, w.Warmup)
	n := len(p.T)
	if n < minTrend {
		return rise{}, false
	}
	tr, err := stats.TheilSen(thin(p).T, thin(p).V, trendAlpha)
	if err != nil {
		return rise{}, false
	}
	r := rise{tr: tr, tFirst: p.T[0], tEnd: max(w.Duration.Seconds(), p.T[n-1])}
	r.level = tr.At(p.T[0])
	r.seen = tr.At(p.T[n-1]) - r.level
	q := max(3, n/4)
	r.floor = slices.Min(p.V[n-q:]) - slices.Min(p.V[:q])
	r.leak = tr.Rising() && r.floor > floorShare*r.seen
	third := n / 3
	r.clear = n >= minStop && slices.Min(p.V[n-third:]) > slices.Max(p.V[:third])
	return r, true
}

// projected is the rise the trend projects from the window's start to the soak's end.
func (r rise) projected() float64 { return r.tr.Slope * (r.tEnd - r.tFirst) }

func tooFew(s *Series, w Window) Finding {
	return Finding{Status: check.StatusInconclusive,
		Message: fmt.Sprintf("%d samples after the %s warm-up: a trend needs %d", after(s, w.Warmup).Len(), w.Warmup, minTrend)}
}

// judgeMemory judges memory growth in percent of the level after the warm-up, by the bands of
// l: GO up to MemoryStable projected, CAUTION up to MemoryFail, NO-GO past it, and a stop at
// MemoryStop seen. A rise past the stable band of which less than l's noise floor was seen is
// CAUTION, never NO-GO nor a stop, and never GO: the floor hides no growth, it only keeps a
// warm-up's few hundred KiB (projected from a steep early slope) from failing a small app.
func judgeMemory(s *Series, w Window, l config.SoakLimits) Finding {
	floor := l.NoiseFloor()
	f := Finding{Threshold: fmt.Sprintf("projected growth ≤ %g %% GO, > %g %% NO-GO; stop at %g %% seen", l.MemoryStable, l.MemoryFail, l.MemoryStop)}
	if floor > 0 {
		f.Threshold += fmt.Sprintf("; a rise under %s is at most CAUTION", bytesStr(floor))
	}
	if s.Len() == 0 {
		f.Status, f.Message = check.StatusError, "memory could not be read from the container's cgroup"
		return f
	}
	r, ok := fit(s, w)
	if !ok {
		g := tooFew(s, w)
		g.Threshold = f.Threshold
		return g
	}
	f.Trend = &r.tr
	if r.level <= 0 {
		f.Status, f.Message = check.StatusInconclusive, "no anonymous memory after the warm-up to measure growth against"
		return f
	}
	seen, proj := 100*r.seen/r.level, 100*r.projected()/r.level
	f.Growth, f.Leak = proj, r.leak
	perHour := 100 * r.tr.Slope * 3600 / r.level
	f.Measured = fmt.Sprintf("%+.1f %% projected over %s (%+.1f %% seen; %s → trend %+.2f %%/h)",
		proj, w.Duration-w.Warmup, seen, bytesStr(r.level), perHour)
	switch {
	case !r.leak:
		f.Status, f.Message = check.StatusPass, fmt.Sprintf("memory is stable at %s: no rise told apart from noise and GC cycles", bytesStr(r.level))
	case proj > l.MemoryStable && r.seen < floor:
		// Past the stable band, but by less than a warm-up's noise seen: not told apart from
		// a runtime growing its heap (whose early slope projects far), so not NO-GO nor a
		// stop — and not GO either.
		f.Status = check.StatusWarn
		f.Message = fmt.Sprintf("memory grows %+.1f %% projected over the soak, but by %s, under the noise floor of %s (soak.limits.memoryNoiseFloor): CAUTION, not NO-GO",
			proj, bytesStr(max(r.projected(), r.seen)), bytesStr(floor))
	case seen >= l.MemoryStop && r.clear:
		f.Status, f.Stop = check.StatusFail, true
		f.Message = fmt.Sprintf("memory leaks: grew %.0f %% (%s → %s) after the warm-up, past the stop limit of %g %%", seen, bytesStr(r.level), bytesStr(r.level+r.seen), l.MemoryStop)
	case proj > l.MemoryFail:
		f.Status = check.StatusFail
		f.Message = fmt.Sprintf("memory leaks: %+.0f %% projected over the soak (%s/h), past %g %%", proj, bytesStr(r.tr.Slope*3600), l.MemoryFail)
	case proj > l.MemoryStable:
		f.Status = check.StatusWarn
		f.Message = fmt.Sprintf("memory grows: %+.1f %% projected over the soak (%s/h), within the NO-GO line of %g %%", proj, bytesStr(r.tr.Slope*3600), l.MemoryFail)
	default:
		f.Status = check.StatusPass
		f.Message = fmt.Sprintf("memory grows slightly: %+.1f %% projected over the soak, within the %g %% stable band", proj, l.MemoryStable)
	}
	return f
}

// judgeCount judges a count that must stay under limit and must not leak.
func judgeCount(s *Series, w Window, what string, limit, minLeak int, leakStatus check.Status) Finding {
	f := Finding{Threshold: fmt.Sprintf("< %d, and no rise projected past it or by ≥ max(%d, 25 %%)", limit, minLeak)}
	if s.Len() == 0 {
		f.Status, f.Message = check.StatusError, what+" could not be read from /proc of the container's process"
		return f
	}
	last := s.last()
	if last >= float64(limit) {
		f.Status, f.Stop = check.StatusFail, true
		f.Message = fmt.Sprintf("%.0f %s: at the limit of %d", last, what, limit)
		f.Measured = fmt.Sprintf("%.0f", last)
		return f
	}
	r, ok := fit(s, w)
	if !ok {
		g := tooFew(s, w)
		g.Threshold = f.Threshold
		return g
	}
	f.Trend = &r.tr
	proj := r.projected()
	end := r.level + proj
	f.Growth, f.Leak = proj, r.leak
	f.Measured = fmt.Sprintf("%.0f now, %.0f after the warm-up, trend %+.2f/min, %.0f projected at the end", last, r.level, r.tr.Slope*60, end)
	switch {
	case r.leak && end >= float64(limit):
		f.Status = check.StatusFail
		f.Message = fmt.Sprintf("%s leak: rising %+.1f/min, projected to reach %.0f by the end of the soak (limit %d)", what, r.tr.Slope*60, end, limit)
	case r.leak && proj >= max(float64(minLeak), 0.25*r.level):
		f.Status = leakStatus
		f.Message = fmt.Sprintf("%s leak: rising %+.1f/min, %+.0f projected over the soak", what, r.tr.Slope*60, proj)
	default:
		f.Status = check.StatusPass
		f.Message = fmt.Sprintf("%s bounded: %.0f now, no leak", what, last)
	}
	return f
}

// judgeCPU judges the CPU use per sampling interval, as a share of the CPU limit.
func judgeCPU(s *Series, w Window, l config.SoakLimits, cpus float64) Finding {
	f := Finding{Threshold: fmt.Sprintf("median < %g %% of %g CPUs after the warm-up", l.CPU, cpus)}
	p := after(s, w.Warmup)
	var use []float64
	for i := 1; i < len(p.T); i++ {
		if dt := p.T[i] - p.T[i-1]; dt > 0 && cpus > 0 {
			use = append(use, 100*(p.V[i]-p.V[i-1])/dt/cpus)
		}
	}
	if len(use) < 2 {
		f.Status, f.Message = check.StatusInconclusive, fmt.Sprintf("%d CPU intervals after the warm-up: too few to tell", len(use))
		return f
	}
	med := medianOf(use)
	f.Measured = fmt.Sprintf("median %.1f %%, peak %.1f %% of %g CPUs", med, slices.Max(use), cpus)
	if med > l.CPU {
		f.Status, f.Message = check.StatusWarn, fmt.Sprintf("CPU sustained at %.0f %% of the limit, above %g %%", med, l.CPU)
		return f
	}
	f.Status, f.Message = check.StatusPass, fmt.Sprintf("CPU at %.1f %% of the limit", med)
	return f
}

// judgeHealth judges the health probes: sustained failures (HealthStop in a row), or a success
// rate below HealthRate with more than two failures, are NO-GO; one or two recovered failures
// are CAUTION. A container that exited is NO-GO.
func judgeHealth(ok, running *Series, exit string, l config.SoakLimits) Finding {
	f := Finding{Threshold: fmt.Sprintf("> %g %% of probes, fewer than %d failures in a row", l.HealthRate, l.HealthStop)}
	for _, v := range running.V {
		if v == 0 {
			f.Status, f.Stop = check.StatusFail, true
			if exit == "" {
				exit = "exited"
			}
			f.Message = "the container " + exit + " during the soak"
			return f
		}
	}
	n := ok.Len()
	if n == 0 {
		f.Status, f.Message = check.StatusSkipped, "no health probe was made: the app exposes no port"
		return f
	}
	fails, run, longest := 0, 0, 0
	for _, v := range ok.V {
		if v == 0 {
			fails++
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	rate := 100 * float64(n-fails) / float64(n)
	f.Measured = fmt.Sprintf("%.2f %% of %d probes passed; %d failed, at most %d in a row", rate, n, fails, longest)
	switch {
	case longest >= l.HealthStop:
		f.Status, f.Stop = check.StatusFail, true
		f.Message = fmt.Sprintf("health fails: %d probes failed in a row (sustained from %d)", longest, l.HealthStop)
	case rate < l.HealthRate && fails > 2:
		f.Status = check.StatusFail
		f.Message = fmt.Sprintf("health fails: %.2f %% of probes passed, below %g %%", rate, l.HealthRate)
	case fails > 0 && run > 0:
		f.Status = check.StatusWarn
		f.Message = fmt.Sprintf("health: %d probe(s) failed, the last one not yet recovered", fails)
	case fails > 0:
		f.Status = check.StatusWarn
		f.Message = fmt.Sprintf("health: %d probe(s) failed and recovered", fails)
	default:
		f.Status, f.Message = check.StatusPass, fmt.Sprintf("healthy: all %d probes passed", n)
	}
	return f
}

// judgeErrors judges the error lines of the logs per minute over the soak (a minute at least).
func judgeErrors(s *Series, l config.SoakLimits) Finding {
	f := Finding{Threshold: fmt.Sprintf("< %g error lines per minute", l.ErrorsPerMinute)}
	if s.Len() == 0 {
		f.Status, f.Message = check.StatusInconclusive, "the logs could not be read"
		return f
	}
	minutes := math.Max(1, (s.T[s.Len()-1]-s.T[0])/60)
	lines := s.last()
	rate := lines / minutes
	f.Measured = fmt.Sprintf("%.0f error lines in %.1f min: %.2f/min", lines, minutes, rate)
	if rate > l.ErrorsPerMinute {
		f.Status, f.Message = check.StatusWarn, fmt.Sprintf("%.2f error lines per minute in the logs, above %g", rate, l.ErrorsPerMinute)
		return f
	}
	f.Status, f.Message = check.StatusPass, fmt.Sprintf("%.0f error lines in the logs", lines)
	return f
}

// bytesStr writes a size in MiB or KiB.
func bytesStr(b float64) string {
	switch {
	case math.Abs(b) >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case math.Abs(b) >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", b/(1<<10))
}
