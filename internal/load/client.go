package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// client sends the requests of a mix to one target over a fixed pool of keep-alive HTTP/1.1
// connections. Each worker owns one connection for the duration of a run and talks to it
// synchronously: it writes the request, serialised once in advance, and reads the response
// with net/http's parser. That is what makes the generator cheap (wrk works the same way):
// http.Transport hands every request between three goroutines and builds it anew, which
// perf-anchors.md measured at 25–39 µs of generator CPU per request against wrk's 9.6 µs.
// There is no proxy, no compression, no redirect following and no HTTP/2; connections are
// opened on first use with a short dial timeout and kept across the runs of one client.
type client struct {
	target Target
	addr   string      // host:port to dial
	tls    *tls.Config // nil for http
	reqs   []*http.Request
	raw    [][]byte // reqs[i] as written on the wire
	pool   chan *conn
}

// dialTimeout bounds connecting to a target: on loopback a connect takes microseconds, so a
// slow one means the target is not there.
const dialTimeout = 2 * time.Second

func newClient(t Target, m *mix, conns int) (*client, error) {
	base, err := url.Parse(t.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("%w: target %q: base URL %q must be http(s)://host[:port][/prefix]", ErrConfig, t.Name, t.BaseURL)
	}
	c := &client{target: t, addr: base.Host, pool: make(chan *conn, conns)}
	if base.Port() == "" {
		port := "80"
		if base.Scheme == "https" {
			port = "443"
		}
		c.addr = net.JoinHostPort(base.Hostname(), port)
	}
	if base.Scheme == "https" {
		c.tls = &tls.Config{ServerName: base.Hostname(), NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	}
	prefix := strings.TrimSuffix(t.BaseURL, "/")
	for i, r := range m.reqs {
		method, path := r.Method, r.Path
		if method == "" {
			method = http.MethodGet
		}
		if path == "" {
			path = "/"
		}
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%w: request %d: path %q must start with /", ErrConfig, i, path)
		}
		var body io.Reader
		if len(r.Body) > 0 {
			body = bytes.NewReader(r.Body)
		}
		req, err := http.NewRequest(method, prefix+path, body)
		if err != nil {
			return nil, fmt.Errorf("%w: request %d (%s %s): %w", ErrConfig, i, method, path, err)
		}
		for k, vs := range r.Headers {
			if !validHeaderName(k) {
				return nil, fmt.Errorf("%w: request %d: invalid header name %q", ErrConfig, i, k)
			}
			for _, v := range vs {
				if !validHeaderValue(v) {
					return nil, fmt.Errorf("%w: request %d: header %s: invalid value %q", ErrConfig, i, k, v)
				}
			}
			if http.CanonicalHeaderKey(k) == "Host" && len(vs) > 0 {
				if vs[0] == "" || strings.ContainsAny(vs[0], " \t/@?#") {
					return nil, fmt.Errorf("%w: request %d: invalid Host %q", ErrConfig, i, vs[0])
				}
				req.Host = vs[0]
				continue
			}
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			return nil, fmt.Errorf("%w: request %d (%s %s): %w", ErrConfig, i, method, path, err)
		}
		req.Body = nil // the template only tells the response parser the method
		c.reqs = append(c.reqs, req)
		c.raw = append(c.raw, buf.Bytes())
	}
	for range conns {
		c.pool <- &conn{cl: c}
	}
	return c, nil
}

// close closes every connection; all of them must have been released.
func (c *client) close() {
	for range cap(c.pool) {
		(<-c.pool).close()
	}
}

// acquire takes a connection from the pool for one worker of a run. When ctx ends, the
// connection is closed under the worker's feet, which ends any request in flight at once.
func (c *client) acquire(ctx context.Context) *conn {
	cn := <-c.pool
	cn.mu.Lock()
	cn.gen++
	gen := cn.gen
	cn.mu.Unlock()
	cn.stop = context.AfterFunc(ctx, func() { cn.abort(gen) })
	return cn
}

// conn is one keep-alive connection, used by one worker at a time.
type conn struct {
	cl   *client
	mu   sync.Mutex // guards nc against abort; the owning worker reads nc without it
	nc   net.Conn
	br   *bufio.Reader
	stop func() bool
	gen  uint64 // which acquire an abort belongs to
	dead bool   // aborted: the run's context ended
}

// release returns cn to its client's pool, ready for the next run.
func (cn *conn) release() {
	cn.stop()
	cn.mu.Lock()
	cn.gen++ // an abort of this run that is still on its way does nothing now
	if cn.dead && cn.nc != nil {
		_ = cn.nc.Close() // closed by the abort already; forget it
		cn.nc = nil
	}
	cn.dead = false
	cn.mu.Unlock()
	cn.cl.pool <- cn
}

func (cn *conn) abort(gen uint64) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.gen != gen {
		return
	}
	cn.dead = true
	if cn.nc != nil {
		_ = cn.nc.Close()
	}
}

func (cn *conn) close() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.nc != nil {
		_ = cn.nc.Close()
		cn.nc = nil
	}
}

var errAborted = errors.New("run cancelled")

func (cn *conn) dial(ctx context.Context, deadline time.Time) error {
	d := net.Dialer{Timeout: dialTimeout, Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", cn.cl.addr)
	if err != nil {
		return err
	}
	if cn.cl.tls != nil {
		tc := tls.Client(nc, cn.cl.tls)
		hctx, cancel := context.WithDeadline(ctx, deadline)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return err
		}
		nc = tc
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.dead {
		_ = nc.Close()
		return errAborted
	}
	cn.nc = nc
	if cn.br == nil {
		cn.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		cn.br.Reset(nc)
	}
	return nil
}

// do sends mix entry i and reads the whole response before deadline, and returns its status.
// A connection that the server had closed while it was idle is replaced once.
func (cn *conn) do(ctx context.Context, i int, deadline time.Time) (int, error) {
	for attempt := 0; ; attempt++ {
		reused := cn.nc != nil
		if !reused {
			if err := cn.dial(ctx, deadline); err != nil {
				return 0, err
			}
		}
		status, err := cn.roundTrip(i, deadline)
		if err == nil {
			return status, nil
		}
		cn.close()
		if cerr := ctx.Err(); cerr != nil {
			// The run ended (deadline or cancel) and closed the connection under the request.
			return status, fmt.Errorf("request cut short: %w", cerr)
		}
		if !reused || attempt > 0 || status != 0 || !staleConn(err) {
			return status, err
		}
	}
}

func (cn *conn) roundTrip(i int, deadline time.Time) (int, error) {
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return 0, err
	}
	if _, err := cn.nc.Write(cn.cl.raw[i]); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoResponse, err)
	}
	if _, err := cn.br.Peek(1); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoResponse, err)
	}
	for {
		resp, err := http.ReadResponse(cn.br, cn.cl.reqs[i])
		if err != nil {
			return 0, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // informational; the final response follows
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return resp.StatusCode, fmt.Errorf("reading the response: %w", err)
		}
		if resp.Close || resp.StatusCode == http.StatusSwitchingProtocols {
			cn.close()
		}
		return resp.StatusCode, nil
	}
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v has no control characters other than tab.
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// errNoResponse marks errors that came before any byte of the response.
var errNoResponse = errors.New("no response")

// staleConn reports whether err is what a keep-alive connection that the server closed while
// idle gives before any byte of a response: the server never saw the request, which may be
// sent again on a new connection.
func staleConn(err error) bool {
	return errors.Is(err, errNoResponse) &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}
