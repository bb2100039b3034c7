package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartup runs the built binary's cheapest commands as a user does: what every command
// pays before it does any work (loading the binary, initialising every linked package). It
// reports the median wall time and the median peak RSS of the runs (from rusage), the figures
// the README's targets are stated in: ≤ 30 ms and ≤ 30 MB.
//
//	go test ./cmd/plimsoll -run '^$' -bench Startup -benchtime 20x
func BenchmarkStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "plimsoll")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--help"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			var wall []time.Duration
			var rssKB []int64
			for b.Loop() {
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
				start := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("plimsoll %s: %v", strings.Join(args, " "), err)
				}
				wall = append(wall, time.Since(start))
				rssKB = append(rssKB, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) // KiB on Linux
			}
			b.ReportMetric(float64(median(wall))/float64(time.Millisecond), "median-ms")
			b.ReportMetric(float64(median(rssKB))/1024, "peak-MB")
		})
	}
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
