package testenv

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// EngineProxy stands between plimsoll and the real Docker engine on a unix socket of its own,
// passing every call through except those its Hang rule picks: those get no answer until the
// caller gives up or the proxy closes. It plays an engine that stops answering mid-run.
type EngineProxy struct {
	// Host is the proxy's address for DOCKER_HOST ("unix:///…/engine.sock").
	Host string

	hang   atomic.Pointer[func(method, path string) bool]
	mu     sync.Mutex
	seen   []string // "METHOD /path" of every call, version prefix cut
	hung   []string // the calls it held
	closed chan struct{}
}

// apiVersion is the "/v1.47" an engine API path starts with.
var apiVersion = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

// HangingEngine starts an EngineProxy in front of the engine $DOCKER_HOST (or the default
// socket) names; it is closed when t ends. Docker must be there (see Docker).
func HangingEngine(t testing.TB) *EngineProxy {
	t.Helper()
	Docker(t)
	engine := os.Getenv("DOCKER_HOST")
	if engine == "" {
		engine = "unix:///var/run/docker.sock"
	}
	sock, ok := strings.CutPrefix(engine, "unix://")
	if !ok {
		t.Skipf("the engine proxy needs a unix-socket engine, DOCKER_HOST is %s", engine)
	}
	// A short directory: a unix socket path has at most 108 bytes.
	dir, err := os.MkdirTemp("", "engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &EngineProxy{Host: "unix://" + path, closed: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
		FlushInterval: -1, // logs and stats stream
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + apiVersion.ReplaceAllString(r.URL.Path, "")
		p.mu.Lock()
		p.seen = append(p.seen, call)
		hang := p.hang.Load()
		held := hang != nil && (*hang)(r.Method, apiVersion.ReplaceAllString(r.URL.Path, ""))
		if held {
			p.hung = append(p.hung, call)
		}
		p.mu.Unlock()
		if held {
			select {
			case <-r.Context().Done():
			case <-p.closed:
			}
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(p.closed)
		_ = srv.Close()
	})
	return p
}

// Hang makes the proxy hold every later call rule picks (by method and path without the API
// version, "DELETE", "/containers/abc"); nil passes everything again.
func (p *EngineProxy) Hang(rule func(method, path string) bool) {
	if rule == nil {
		p.hang.Store(nil)
		return
	}
	p.hang.Store(&rule)
}

// Seen is every call the proxy received, as "METHOD /path".
func (p *EngineProxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// Hung is every call the proxy held.
func (p *EngineProxy) Hung() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hung...)
}
