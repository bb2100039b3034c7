package functional

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/report"
)

// bigJUnit writes a JUnit report of n testcases in classes of 100, the ones listed in failing
// failed, in the shape of a real surefire run (a message and a stack on each failure).
func bigJUnit(n int, failing ...int) []byte {
	fail := map[int]bool{}
	for _, i := range failing {
		fail[i] = true
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<testsuites>\n")
	for i := 0; i < n; i++ {
		class := fmt.Sprintf("com.example.module%03d.Service%03dTest", i/10000, (i/100)%100)
		if i%100 == 0 {
			fmt.Fprintf(&b, "  <testsuite name=%q tests=\"100\">\n", class)
		}
		if fail[i] {
			fmt.Fprintf(&b, "    <testcase name=\"shouldHandleCase%06d\" classname=%q time=\"0.012\"><failure message=\"expected 200 but was 500\" type=\"java.lang.AssertionError\">java.lang.AssertionError: expected 200 but was 500\n\tat %s.shouldHandleCase%06d(%s.java:42)</failure></testcase>\n", i, class, class, i, class)
		} else {
			fmt.Fprintf(&b, "    <testcase name=\"shouldHandleCase%06d\" classname=%q time=\"0.012\"/>\n", i, class)
		}
		if i%100 == 99 || i == n-1 {
			b.WriteString("  </testsuite>\n")
		}
	}
	b.WriteString("</testsuites>\n")
	return []byte(b.String())
}

// peakHeap samples the heap in use until stop is called and returns the most it saw.
func peakHeap() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkLargeSuite runs the suite check on a 100 000-case JUnit report per side (3 tests
// regress in NEW) and writes summary.json: peak-heap-MB is the most heap in use while the check
// ran and the report was encoded, summary-MB the size of summary.json, reports-MB the size of
// the two reports, stored-MB what the store keeps of the run (the report as compact JSON).
func BenchmarkLargeSuite(b *testing.B) {
	const n = 100_000
	old, cand := bigJUnit(n, 7), bigJUnit(n, 7, 5_000, 50_000, 99_999)
	ctx := context.Background()
	for b.Loop() {
		runtime.GC()
		stop := peakHeap()
		res, err := runFake(ctx, config.Functional{Format: "junit"}, old, cand)
		if err != nil {
			b.Fatal(err)
		}
		if res.Status == check.StatusPass {
			b.Fatalf("%s: %s, want the regressions caught", res.Status, res.Message)
		}
		r := &report.Report{RunID: "bench", Layers: []report.Layer{{Layer: check.L3Functional, Name: "functional", State: "ran",
			Status: res.Status, Results: []check.Result{res}}}}
		var sum countWriter
		if err := (report.JSON{}).Encode(&sum, r); err != nil {
			b.Fatal(err)
		}
		var stored countWriter
		if err := jsonCompact(&stored, r); err != nil {
			b.Fatal(err)
		}
		peak := stop()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(sum.n)/(1<<20), "summary-MB")
		b.ReportMetric(float64(stored.n)/(1<<20), "stored-MB")
		b.ReportMetric(float64(len(old)+len(cand))/(1<<20), "reports-MB")
	}
}

// jsonCompact writes v as the store does (encoding/json, compact).
func jsonCompact(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
