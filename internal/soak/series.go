package soak

import (
	"fmt"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
)

// Series is one metric of one image over the soak: T is seconds since the soak started.
type Series struct {
	T []float64 `json:"t"`
	V []float64 `json:"v"`
}

func (s *Series) add(t, v float64) {
	s.T = append(s.T, t)
	s.V = append(s.V, v)
}

// Len is the number of points.
func (s Series) Len() int { return len(s.T) }

// last returns the last value, 0 for none.
func (s *Series) last() float64 {
	if len(s.V) == 0 {
		return 0
	}
	return s.V[len(s.V)-1]
}

// Metric names, as stored: "<image>.<metric>" ("new.rss_bytes", "old.fds"), and TickMetric
// once per sampling tick (its value is the tick's number from 1).
const (
	MetricRSS        = "rss_bytes"         // anonymous memory of the container's cgroup
	MetricCPU        = "cpu_seconds"       // CPU time of the container's cgroup since it started
	MetricFDs        = "fds"               // open file descriptors of the main process
	MetricThreads    = "threads"           // threads of the main process
	MetricConns      = "conns"             // TCP sockets neither listening nor in TIME_WAIT
	MetricEstab      = "conns_established" // TCP sockets ESTABLISHED
	MetricCloseWait  = "conns_close_wait"  // TCP sockets CLOSE_WAIT (the peer closed, the app did not)
	MetricTimeWait   = "conns_time_wait"   // TCP sockets TIME_WAIT
	MetricHealth     = "health_ok"         // 1 when the health probe passed, else 0
	MetricErrorLines = "error_lines"       // error lines in the logs so far
	MetricLogLines   = "log_lines"         // log lines read so far
	MetricRunning    = "running"           // 1 while the container runs, 0 once it has exited
	TickMetric       = "tick"
)

// Recording is every series of one image.
type Recording struct {
	RSS, CPU, FDs, Threads, Conns, Estab, CloseWait, TimeWait, Health, ErrorLines, LogLines, Running Series
	// Exit says how the container ended, "" while it runs.
	Exit string `json:",omitempty"`
}

// series returns the series of metric, nil for an unknown one.
func (r *Recording) series(metric string) *Series {
	switch metric {
	case MetricRSS:
		return &r.RSS
	case MetricCPU:
		return &r.CPU
	case MetricFDs:
		return &r.FDs
	case MetricThreads:
		return &r.Threads
	case MetricConns:
		return &r.Conns
	case MetricEstab:
		return &r.Estab
	case MetricCloseWait:
		return &r.CloseWait
	case MetricTimeWait:
		return &r.TimeWait
	case MetricHealth:
		return &r.Health
	case MetricErrorLines:
		return &r.ErrorLines
	case MetricLogLines:
		return &r.LogLines
	case MetricRunning:
		return &r.Running
	}
	return nil
}

// Point is one sample of one image.
type Point struct {
	Time                 time.Time
	RSS, CPU             float64 // bytes, seconds
	FDs, Threads         int
	TCP                  TCPCounts
	HealthOK             bool
	ErrorLines, LogLines int // cumulative
	Running              bool
	Exit                 string // how the container ended, when !Running
	statsOK, procOK      bool   // whether the cgroup and /proc were read
	probed               bool   // whether a health probe was made
}

// samples returns p as store samples of image name ("old", "new").
func (p Point) samples(name string) []store.Sample {
	var ss []store.Sample
	add := func(m string, v float64) {
		ss = append(ss, store.Sample{Time: p.Time, Metric: name + "." + m, Value: v})
	}
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	add(MetricRunning, b(p.Running))
	if p.probed {
		add(MetricHealth, b(p.HealthOK))
	}
	add(MetricErrorLines, float64(p.ErrorLines))
	add(MetricLogLines, float64(p.LogLines))
	if p.statsOK {
		add(MetricRSS, p.RSS)
		add(MetricCPU, p.CPU)
	}
	if p.procOK {
		add(MetricFDs, float64(p.FDs))
		add(MetricThreads, float64(p.Threads))
		add(MetricConns, float64(p.TCP.Open()))
		add(MetricEstab, float64(p.TCP[tcpEstablished]))
		add(MetricCloseWait, float64(p.TCP[tcpCloseWait]))
		add(MetricTimeWait, float64(p.TCP[tcpTimeWait]))
	}
	return ss
}

// record adds the samples of image name to r; start is when the soak started.
func (r *Recording) record(start time.Time, name string, ss []store.Sample) {
	for _, s := range ss {
		n, m, _ := strings.Cut(s.Metric, ".")
		if n != name {
			continue
		}
		if se := r.series(m); se != nil {
			se.add(s.Time.Sub(start).Seconds(), s.Value)
		}
	}
}

// Recordings splits stored samples into the recordings of each image ("old", "new") and
// counts the ticks. Samples of unknown metrics are left out.
func Recordings(start time.Time, ss []store.Sample) (map[string]*Recording, int, error) {
	out := map[string]*Recording{}
	ticks := 0
	for _, s := range ss {
		if s.Metric == TickMetric {
			ticks++
			continue
		}
		name, m, ok := strings.Cut(s.Metric, ".")
		if !ok || (name != "old" && name != "new") {
			return nil, 0, fmt.Errorf("soak: stored sample %d has an unknown metric %q", s.Seq, s.Metric)
		}
		r := out[name]
		if r == nil {
			r = &Recording{}
			out[name] = r
		}
		if se := r.series(m); se != nil {
			se.add(s.Time.Sub(start).Seconds(), s.Value)
		}
	}
	return out, ticks, nil
}
