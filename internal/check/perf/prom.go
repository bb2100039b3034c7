package perf

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
)

// gcMetrics are the summaries (or histograms) of GC pauses of the runtimes plimsoll knows,
// in Prometheus' text format: Go's client_golang, Micrometer on the JVM, prom-client on Node.
var gcMetrics = []string{"go_gc_duration_seconds", "jvm_gc_pause_seconds", "nodejs_gc_duration_seconds"}

// gcTotals is the total GC pause time and the number of pauses an app reported.
type gcTotals struct {
	Name  string  // the metric found, "" for none
	Sum   float64 // seconds
	Count float64
}

// parseGC reads Prometheus text exposition and returns the totals of the first metric of
// gcMetrics that it holds (_sum and _count, added up over label sets). Lines it cannot read
// are ignored.
func parseGC(b []byte) gcTotals {
	var found [3]gcTotals
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ \t"); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			continue
		}
		for i, m := range gcMetrics {
			switch name {
			case m + "_sum":
				found[i].Name, found[i].Sum = m, found[i].Sum+v
			case m + "_count":
				found[i].Name, found[i].Count = m, found[i].Count+v
			}
		}
	}
	for _, g := range found {
		if g.Name != "" {
			return g
		}
	}
	return gcTotals{}
}
