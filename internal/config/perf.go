package config

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// Perf tunes Layer 4: performance of OLD and NEW side by side. Zero fields take the values of
// DefaultPerf when the layer runs.
type Perf struct {
	// Rounds is the number of paired rounds (default 14: the figure internal/stats calibrated to
	// catch a 10 % p95 regression with ≥ 95 % power at ≤ 5 % false alarms). Use an even number.
	Rounds int `yaml:"rounds"`
	// RoundDuration is the length of one paired round (default 5s).
	RoundDuration time.Duration `yaml:"roundDuration"`
	// Rate is the requests per second sent to each image (default 100).
	Rate float64 `yaml:"rate"`
	// Connections is the pool of keep-alive connections per image (default 100).
	Connections int `yaml:"connections"`
	// Capacity is how long each round drives each image as hard as it can go (a closed loop over
	// Connections connections, one image after the other) to measure its maximum throughput
	// (default 1s).
	Capacity time.Duration `yaml:"capacity"`
	// Warmup is load sent to both images before the first round and discarded.
	Warmup time.Duration `yaml:"warmup"`
	// Mix is what the load sends (default GET /).
	Mix []PerfRequest `yaml:"mix"`
	// ColdStarts is how many times each image is started to time container create → healthy
	// (default 5), alternating OLD and NEW.
	ColdStarts int `yaml:"coldStarts"`
	// Thresholds are the NO-GO lines per metric, in percent of OLD.
	Thresholds PerfThresholds `yaml:"thresholds"`
	// MetricsPath is the app's Prometheus endpoint ("/metrics") for the GC pause; "" for none.
	MetricsPath string `yaml:"metricsPath"`
}

// PerfRequest is one kind of request of the load mix.
type PerfRequest struct {
	Method  string            `yaml:"method"` // default GET
	Path    string            `yaml:"path"`   // default /
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
	// Weight is the relative frequency in the mix (0 counts as 1).
	Weight int `yaml:"weight"`
}

// PerfThresholds are the regressions, in percent of OLD, past which a metric is over its line:
// an increase for cold start, RSS, p95 latency, CPU per request and GC pause, a decrease for
// throughput.
type PerfThresholds struct {
	ColdStart     float64 `yaml:"coldStart"`
	RSS           float64 `yaml:"rss"`
	P95           float64 `yaml:"p95"`
	Throughput    float64 `yaml:"throughput"`
	CPUPerRequest float64 `yaml:"cpuPerRequest"`
	GCPause       float64 `yaml:"gcPause"`
}

// DefaultPerf is the seed's Layer 4: 14 paired rounds of 5 s at 100 requests/s per image over
// 100 connections, each followed by a 1 s closed-loop capacity burst per image, GET /, 5 cold starts per image, and the thresholds cold start 10 %, RSS 5 %,
// p95 10 %, throughput 10 %, CPU per request 10 %, GC pause 5 %.
func DefaultPerf() Perf {
	return Perf{
		Rounds:        14,
		RoundDuration: 5 * time.Second,
		Rate:          100,
		Connections:   100,
		Capacity:      time.Second,
		Mix:           []PerfRequest{{Method: http.MethodGet, Path: "/"}},
		ColdStarts:    5,
		Thresholds: PerfThresholds{
			ColdStart: 10, RSS: 5, P95: 10, Throughput: 10, CPUPerRequest: 10, GCPause: 5,
		},
	}
}

// WithDefaults returns p with every zero field taken from DefaultPerf.
func (p Perf) WithDefaults() Perf {
	d := DefaultPerf()
	if p.Rounds == 0 {
		p.Rounds = d.Rounds
	}
	if p.RoundDuration == 0 {
		p.RoundDuration = d.RoundDuration
	}
	if p.Rate == 0 {
		p.Rate = d.Rate
	}
	if p.Connections == 0 {
		p.Connections = d.Connections
	}
	if p.Capacity == 0 {
		p.Capacity = d.Capacity
	}
	if len(p.Mix) == 0 {
		p.Mix = d.Mix
	}
	if p.ColdStarts == 0 {
		p.ColdStarts = d.ColdStarts
	}
	t, dt := &p.Thresholds, d.Thresholds
	for _, f := range []struct {
		v *float64
		d float64
	}{
		{&t.ColdStart, dt.ColdStart}, {&t.RSS, dt.RSS}, {&t.P95, dt.P95},
		{&t.Throughput, dt.Throughput}, {&t.CPUPerRequest, dt.CPUPerRequest}, {&t.GCPause, dt.GCPause},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	return p
}

// Limits of the perf section.
const (
	maxPerfRounds     = 1000
	maxPerfColdStarts = 1000
	maxPerfRate       = 1e6
	maxPerfConns      = 10000
)

func (p Perf) problems(path string) []*Problem {
	var ps []*Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, &Problem{Path: path + field, Msg: fmt.Sprintf(format, args...)})
	}
	if p.Rounds < 0 || p.Rounds > maxPerfRounds {
		add(".rounds", "%d: want 1..%d (0 for the default)", p.Rounds, maxPerfRounds)
	}
	if p.RoundDuration < 0 {
		add(".roundDuration", "%s is negative", p.RoundDuration)
	}
	if p.Rate < 0 || p.Rate > maxPerfRate || math.IsNaN(p.Rate) {
		add(".rate", "%v: want requests per second in (0, %g] (0 for the default)", p.Rate, maxPerfRate)
	}
	if p.Connections < 0 || p.Connections > maxPerfConns {
		add(".connections", "%d: want 1..%d (0 for the default)", p.Connections, maxPerfConns)
	}
	if p.Warmup < 0 {
		add(".warmup", "%s is negative", p.Warmup)
	}
	if p.Capacity < 0 {
		add(".capacity", "%s is negative", p.Capacity)
	}
	if p.ColdStarts < 0 || p.ColdStarts > maxPerfColdStarts {
		add(".coldStarts", "%d: want 1..%d (0 for the default)", p.ColdStarts, maxPerfColdStarts)
	}
	for i, r := range p.Mix {
		at := fmt.Sprintf(".mix[%d]", i)
		if r.Method != "" && strings.ContainsAny(r.Method, " \t\r\n/") {
			add(at+".method", "%q is not an HTTP method", r.Method)
		}
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			add(at+".path", "%q: a path starts with /", r.Path)
		}
		if r.Weight < 0 {
			add(at+".weight", "%d is negative", r.Weight)
		}
		for k := range r.Headers {
			if k == "" || strings.ContainsAny(k, " \t\r\n:") {
				add(at+".headers", "%q is not a header name", k)
			}
		}
	}
	t := p.Thresholds
	for _, f := range []struct {
		name string
		v    float64
		hint string
	}{
		{"coldStart", t.ColdStart, ""}, {"rss", t.RSS, ""}, {"p95", t.P95, ""},
		{"throughput", t.Throughput, " and below 100"}, {"cpuPerRequest", t.CPUPerRequest, ""}, {"gcPause", t.GCPause, ""},
	} {
		if f.v < 0 || math.IsInf(f.v, 0) || math.IsNaN(f.v) || (f.hint != "" && f.v >= 100) {
			add(".thresholds."+f.name, "%v: want a percentage above 0%s (0 for the default)", f.v, f.hint)
		}
	}
	if p.MetricsPath != "" && !strings.HasPrefix(p.MetricsPath, "/") {
		add(".metricsPath", "%q: a path starts with /", p.MetricsPath)
	}
	return ps
}
