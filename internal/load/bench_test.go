package load

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCompare measures this package's closed loop against wrk and hey on one loopback echo
// server running in its own process (this test binary, re-executed by TestMain), first with a
// trivial handler, then with one that burns ≈100 µs of CPU per request. Each round runs the
// three generators back to back, for -compare.d each, in rotating order; -compare.reps rounds.
// It only runs when asked:
//
//	go test ./internal/load -run '^$' -bench Compare -benchtime 1x -args -compare
//
// wrk comes from Debian (apt-get install wrk); hey from `GOBIN=/tmp/heybin go install
// github.com/rakyll/hey@latest` with /tmp/heybin on PATH, or its path in $HEY. A missing tool is
// reported and left out.
var (
	compareFlag = flag.Bool("compare", false, "BenchmarkCompare: run wrk, hey and this package against a loopback echo server")
	compareDur  = flag.Duration("compare.d", 10*time.Second, "BenchmarkCompare: length of each generator's run")
	compareReps = flag.Int("compare.reps", 3, "BenchmarkCompare: rounds of the three generators")
)

// echoEnv makes TestMain serve the echo handler instead of running tests; its value is the
// number of spin iterations per request.
const echoEnv = "PLIMSOLL_LOAD_ECHO_SERVER"

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(echoEnv); ok {
		os.Exit(serveEcho(v))
	}
	os.Exit(m.Run())
}

// serveEcho listens on 127.0.0.1, prints its address, and serves until its stdin closes.
func serveEcho(work string) int {
	n, err := strconv.Atoi(work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo server:", err)
		return 2
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo server:", err)
		return 1
	}
	fmt.Println(l.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(l, echoHandler(n))
	return 1
}

// spinSink keeps the spin loop from being optimised away.
var spinSink atomic.Uint64

// spin burns CPU: n rounds of xorshift (perf-anchors.md's server used ≈497 per µs).
func spin(n int) {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink.Store(x)
}

func echoHandler(work int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if work > 0 {
			spin(work)
		}
		_, _ = io.WriteString(w, "ok")
	}
}

var (
	spinOnce  sync.Once
	spin100us int
)

// spinFor100us returns the spin iterations that take 100 µs of CPU here: the fastest of a few
// timed trials (the machine is shared; the fastest is the uncontended speed).
func spinFor100us() int {
	spinOnce.Do(func() {
		const n = 200_000
		best := time.Hour
		for range 15 {
			t := time.Now()
			spin(n)
			best = min(best, time.Since(t))
		}
		spin100us = int(float64(n) * float64(100*time.Microsecond) / float64(best))
	})
	return spin100us
}

// benchClosed runs b.N requests through 64 workers against h in this process.
func benchClosed(b *testing.B, h http.HandlerFunc) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	b.ResetTimer()
	s, err := RunClosed(context.Background(), ClosedConfig{Workers: 64, Requests: int64(b.N), Duration: 10 * time.Minute}, Target{BaseURL: srv.URL})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if s.Errors != 0 || s.Requests != int64(b.N) {
		b.Fatalf("%d of %d requests failed: %v", s.Errors, s.Requests, s.ErrorSamples)
	}
	b.ReportMetric(s.Throughput, "req/s")
	b.ReportMetric(float64(s.P99.Microseconds()), "p99-µs")
}

// BenchmarkClosedLoopTrivial: generator and server share this process and its 2 cores.
func BenchmarkClosedLoopTrivial(b *testing.B) { benchClosed(b, echoHandler(0)) }

// BenchmarkClosedLoop100us: a handler that spins ≈100 µs of CPU per request.
func BenchmarkClosedLoop100us(b *testing.B) { benchClosed(b, echoHandler(spinFor100us())) }

// startEcho starts the echo server process and returns its base URL and how to stop it.
func startEcho(b *testing.B, work int) (string, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", echoEnv, work))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		_ = stdin.Close() // the server exits when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		b.Fatalf("echo server did not start: %v", err)
	}
	return "http://" + strings.TrimSpace(line) + "/", stop
}

var reqsPerSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// runTool runs an external generator and returns the requests per second it reports.
func runTool(ctx context.Context, path string, args ...string) (float64, error) {
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", path, err, out)
	}
	m := reqsPerSec.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s: no Requests/sec in\n%s", path, out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func BenchmarkCompare(b *testing.B) {
	if !*compareFlag {
		b.Skip("runs minutes of load: go test ./internal/load -run '^$' -bench Compare -benchtime 1x -args -compare")
	}
	wrk, wrkErr := exec.LookPath("wrk")
	hey := os.Getenv("HEY")
	var heyErr error
	if hey == "" {
		hey, heyErr = exec.LookPath("hey")
	}
	if wrkErr != nil || heyErr != nil {
		b.Logf("missing generators: wrk: %v; hey: %v", wrkErr, heyErr)
	}
	d := *compareDur
	secs := strconv.Itoa(int(d.Seconds())) + "s"
	type tool struct {
		name string
		run  func(ctx context.Context, url string) (float64, error)
	}
	var tools []tool
	if wrkErr == nil {
		tools = append(tools, tool{"wrk", func(ctx context.Context, url string) (float64, error) {
			return runTool(ctx, wrk, "-t2", "-c64", "-d"+secs, url)
		}})
	}
	if heyErr == nil {
		tools = append(tools, tool{"hey", func(ctx context.Context, url string) (float64, error) {
			return runTool(ctx, hey, "-z", secs, "-c", "64", url)
		}})
	}
	tools = append(tools, tool{"own", func(ctx context.Context, url string) (float64, error) {
		s, err := RunClosed(ctx, ClosedConfig{Workers: 64, Duration: d}, Target{BaseURL: url})
		if err == nil && s.Errors > 0 {
			err = fmt.Errorf("%d errors: %v", s.Errors, s.ErrorSamples)
		}
		return s.Throughput, err
	}})

	for range b.N {
		for _, h := range []struct {
			name string
			work int
		}{{"trivial", 0}, {"100us", spinFor100us()}} {
			url, stop := startEcho(b, h.work)
			rps := map[string][]float64{}
			ratios := map[string][]float64{} // own/other within each round
			for rep := range *compareReps {
				round := map[string]float64{}
				for i := range tools {
					tl := tools[(i+rep)%len(tools)]
					ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
					v, err := tl.run(ctx, url)
					cancel()
					if err != nil {
						stop()
						b.Fatalf("%s, %s handler: %v", tl.name, h.name, err)
					}
					round[tl.name] = v
					rps[tl.name] = append(rps[tl.name], v)
				}
				line := fmt.Sprintf("%s handler (spin %d), round %d:", h.name, h.work, rep+1)
				for _, tl := range tools {
					line += fmt.Sprintf(" %s %.0f", tl.name, round[tl.name])
				}
				for _, other := range []string{"wrk", "hey"} {
					if v, ok := round[other]; ok {
						ratios[other] = append(ratios[other], round["own"]/v)
						line += fmt.Sprintf("; own/%s %.2f", other, round["own"]/v)
					}
				}
				b.Log(line + " req/s")
			}
			line := fmt.Sprintf("%s handler, medians of %d rounds × %v: own %.0f req/s", h.name, *compareReps, d, medianOf(rps["own"]))
			for _, other := range []string{"wrk", "hey"} {
				if r := ratios[other]; len(r) > 0 {
					line += fmt.Sprintf("; %s %.0f, own/%s %.2f", other, medianOf(rps[other]), other, medianOf(r))
					b.ReportMetric(medianOf(r), h.name+"-own/"+other)
				}
			}
			stop()
			b.Log(line)
		}
	}
}
