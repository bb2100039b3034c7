// Command testapp is the application of plimsoll's runtime tests: one static HTTP server whose
// behaviour environment variables choose, so that every layer (smoke, perf, harden, soak, the
// regression zoo) builds its good and broken images from the same binary
// (internal/testenv.TestAppImage puts it at /usr/local/bin/testapp in a FROM scratch image).
//
// Environment:
//
//	TESTAPP_ADDR             address to listen on (default 0.0.0.0)
//	TESTAPP_PORT             port to listen on (default 8080)
//	TESTAPP_VERSION          version reported by "/" (default "dev")
//	TESTAPP_MODE             ok (default)        serve; /healthz answers 200
//	                         exit                print a line and exit 3 at once
//	                         crash               print a Go nil-dereference panic and exit 2
//	                         nohealth            serve, but /healthz answers 503 forever
//	                         hang                never listen (until SIGTERM)
//	                         panic-after-start   serve; 500 ms after start log a Go panic
//	                                             line, and keep serving
//	                         writeroot           write /var/lib/testapp/state, then serve;
//	                                             exit 1 saying so when it cannot
//	                         sawtooth            serve; hold a heap that grows by
//	                                             TESTAPP_SAWTOOTH_MB over each
//	                                             TESTAPP_SAWTOOTH_PERIOD_MS, then is freed and
//	                                             given back to the kernel (a GC sawtooth
//	                                             with no leak)
//	TESTAPP_SLOW_US          CPU spin of N µs per request to "/" (stops if the client leaves)
//	TESTAPP_LEAK_KB_PER_REQ  keep N KiB of touched memory per request to "/"
//	TESTAPP_LEAK_FDS_PER_SEC open N file descriptors per second and never close them
//	TESTAPP_LEAK_CONNS_PER_SEC  open N TCP connections to itself per second and never close
//	                         them (the server side times them out: CLOSE_WAIT piles up)
//	TESTAPP_SAWTOOTH_MB      height of the sawtooth mode's heap (default 16)
//	TESTAPP_SAWTOOTH_PERIOD_MS  period of the sawtooth (default 8000)
//	TESTAPP_HEALTH_FAIL_AFTER_MS  /healthz answers 503 from N ms after start on (a slowly
//	                         failing app)
//	TESTAPP_HEALTH_FAIL_EVERY  every Nth request to /healthz answers 503 (flaky, recovering)
//
// Endpoints: /healthz (200 "ok", or 503 in nohealth mode or as the health knobs say), / ("hello from testapp VERSION"),
// /metrics (Prometheus text: go_gc_duration_seconds, process_resident_memory_bytes,
// process_open_fds, testapp_requests_total).
//
// "testapp probe" GETs http://127.0.0.1:$TESTAPP_PORT/healthz and exits 0 when it answers
// 200, 1 otherwise: an image HEALTHCHECK that needs no shell. SIGTERM and SIGINT stop the
// server gracefully (exit 0).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// statePath is what writeroot mode writes.
const statePath = "/var/lib/testapp/state"

type config struct {
	addr, port, version, mode string
	slow                      time.Duration
	leakKB, leakFDs           int
	leakConns                 int
	sawMB                     int
	sawPeriod                 time.Duration
	healthFailAfter           time.Duration // 0: never
	healthFailEvery           int           // 0: never
}

func main() {
	cfg, err := readConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(64)
	}
	if len(os.Args) > 1 {
		if os.Args[1] != "probe" {
			fmt.Fprintf(os.Stderr, "testapp: unknown command %q (the only one is probe)\n", os.Args[1])
			os.Exit(64)
		}
		os.Exit(probe(cfg.port))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch cfg.mode {
	case "exit":
		fmt.Println("testapp: TESTAPP_MODE=exit: exiting with code 3")
		os.Exit(3)
	case "crash":
		fmt.Fprintln(os.Stderr, "panic: runtime error: invalid memory address or nil pointer dereference")
		fmt.Fprintln(os.Stderr, "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]")
		fmt.Fprintln(os.Stderr, "\ngoroutine 1 [running]:\nmain.main()\n\t/src/testapp/main.go:1 +0x1c")
		os.Exit(2)
	case "hang":
		fmt.Println("testapp: TESTAPP_MODE=hang: not listening")
		<-ctx.Done()
		return
	case "writeroot":
		if err := writeState(); err != nil {
			fmt.Fprintf(os.Stderr, "testapp: TESTAPP_MODE=writeroot needs a writable %s: %v\n", statePath, err)
			os.Exit(1)
		}
		fmt.Println("testapp: wrote", statePath)
	case "ok", "nohealth", "panic-after-start", "sawtooth":
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown TESTAPP_MODE %q\n", cfg.mode)
		os.Exit(64)
	}
	if err := serve(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func readConfig() (config, error) {
	cfg := config{
		addr:    envOr("TESTAPP_ADDR", "0.0.0.0"),
		port:    envOr("TESTAPP_PORT", "8080"),
		version: envOr("TESTAPP_VERSION", "dev"),
		mode:    envOr("TESTAPP_MODE", "ok"),
	}
	var errs []error
	num := func(key string) int {
		v := os.Getenv(key)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number >= 0", key, v))
		}
		return n
	}
	cfg.slow = time.Duration(num("TESTAPP_SLOW_US")) * time.Microsecond
	cfg.leakKB = num("TESTAPP_LEAK_KB_PER_REQ")
	cfg.leakFDs = num("TESTAPP_LEAK_FDS_PER_SEC")
	cfg.leakConns = num("TESTAPP_LEAK_CONNS_PER_SEC")
	cfg.sawMB = num("TESTAPP_SAWTOOTH_MB")
	if cfg.sawMB == 0 {
		cfg.sawMB = 16
	}
	cfg.sawPeriod = time.Duration(num("TESTAPP_SAWTOOTH_PERIOD_MS")) * time.Millisecond
	if cfg.sawPeriod == 0 {
		cfg.sawPeriod = 8 * time.Second
	}
	cfg.healthFailAfter = time.Duration(num("TESTAPP_HEALTH_FAIL_AFTER_MS")) * time.Millisecond
	cfg.healthFailEvery = num("TESTAPP_HEALTH_FAIL_EVERY")
	return cfg, errors.Join(errs...)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func probe(port string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp probe:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "testapp probe: status", resp.StatusCode)
		return 1
	}
	return 0
}

func writeState() error {
	if err := os.MkdirAll("/var/lib/testapp", 0o755); err != nil {
		return err
	}
	return os.WriteFile(statePath, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// server holds what the handlers share.
type server struct {
	cfg      config
	started  time.Time
	probes   atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	leaked   [][]byte
	fds      []*os.File
	conns    []net.Conn
}

func serve(ctx context.Context, cfg config) error {
	s := &server{cfg: cfg, started: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/metrics", s.metrics)
	mux.HandleFunc("/", s.root)
	addr := net.JoinHostPort(cfg.addr, cfg.port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("testapp %s: listening on %s (mode %s)\n", cfg.version, addr, cfg.mode)
	if cfg.mode == "panic-after-start" {
		time.AfterFunc(500*time.Millisecond, func() {
			fmt.Fprintln(os.Stderr, "panic: testapp: simulated failure after start\n\ngoroutine 7 [running]:\nmain.serve.func1()")
		})
	}
	if cfg.leakFDs > 0 {
		go s.leakFDs(ctx)
	}
	if cfg.leakConns > 0 {
		go s.leakConns(ctx, net.JoinHostPort("127.0.0.1", cfg.port))
	}
	if cfg.mode == "sawtooth" {
		go sawtooth(ctx, cfg.sawMB, cfg.sawPeriod)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Println("testapp: stopped")
	return nil
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	n := s.probes.Add(1)
	switch {
	case s.cfg.mode == "nohealth",
		s.cfg.healthFailAfter > 0 && time.Since(s.started) >= s.cfg.healthFailAfter,
		s.cfg.healthFailEvery > 0 && n%int64(s.cfg.healthFailEvery) == 0:
		http.Error(w, "not healthy", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *server) root(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.cfg.slow > 0 {
		spin(r.Context(), s.cfg.slow)
	}
	if s.cfg.leakKB > 0 {
		b := make([]byte, s.cfg.leakKB<<10)
		for i := range b {
			b[i] = byte(i)
		}
		s.mu.Lock()
		s.leaked = append(s.leaked, b)
		s.mu.Unlock()
	}
	fmt.Fprintf(w, "hello from testapp %s\n", s.cfg.version)
}

// sawtooth grows a heap by mb MiB over each period in sixteen steps, then drops it and
// returns the memory to the kernel, so the container's anonymous memory rises and falls
// around a flat level.
func sawtooth(ctx context.Context, mb int, period time.Duration) {
	const steps = 16
	t := time.NewTicker(period / steps)
	defer t.Stop()
	var heap [][]byte
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if i%steps == 0 {
			heap = nil
			debug.FreeOSMemory()
			continue
		}
		b := make([]byte, mb<<20/steps)
		for j := range b {
			b[j] = byte(j)
		}
		heap = append(heap, b)
	}
}

// spin burns CPU for d, or until ctx ends.
func spin(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return
		}
	}
}

func (s *server) leakFDs(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range s.cfg.leakFDs {
			f, err := os.Open("/")
			if err != nil {
				fmt.Fprintln(os.Stderr, "testapp: leak fd:", err)
				continue
			}
			s.mu.Lock()
			s.fds = append(s.fds, f)
			s.mu.Unlock()
		}
	}
}

func (s *server) leakConns(ctx context.Context, addr string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range s.cfg.leakConns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testapp: leak connection:", err)
				continue
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}
}

func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5) // min, 25%, 50%, 75%, max
	debug.ReadGCStats(&gc)
	var pauses time.Duration
	for _, p := range gc.Pause {
		pauses += p
	}
	var b strings.Builder
	b.WriteString("# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n")
	b.WriteString("# TYPE go_gc_duration_seconds summary\n")
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		fmt.Fprintf(&b, "go_gc_duration_seconds{quantile=%q} %g\n", q, gc.PauseQuantiles[i].Seconds())
	}
	fmt.Fprintf(&b, "go_gc_duration_seconds_sum %g\n", pauses.Seconds())
	fmt.Fprintf(&b, "go_gc_duration_seconds_count %d\n", gc.NumGC)
	b.WriteString("# HELP process_resident_memory_bytes Resident memory size in bytes.\n")
	b.WriteString("# TYPE process_resident_memory_bytes gauge\n")
	fmt.Fprintf(&b, "process_resident_memory_bytes %d\n", rss())
	b.WriteString("# HELP process_open_fds Number of open file descriptors.\n")
	b.WriteString("# TYPE process_open_fds gauge\n")
	fmt.Fprintf(&b, "process_open_fds %d\n", openFDs())
	b.WriteString("# HELP testapp_requests_total Requests to / served.\n")
	b.WriteString("# TYPE testapp_requests_total counter\n")
	fmt.Fprintf(&b, "testapp_requests_total %d\n", s.requests.Load())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// rss reads the resident set size from /proc/self/statm (0 where it cannot).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// openFDs counts /proc/self/fd (0 where it cannot).
func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}
