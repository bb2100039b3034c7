package smoke

import (
	"context"
	"errors"
	"fmt"
	"github.com/plimsoll/plimsoll/internal/netns"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
)

// maxBody is how much of an answer's body is read and matched.
const maxBody = 1 << 20

// requestClient makes each request on a new connection and does not follow redirects: the
// status compared is the app's own answer.
var requestClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// requestName names a request in reports ("GET /api/items").
func requestName(r config.Request) string { return method(r) + " " + r.Path }

func method(r config.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(r.Method)
}

func wantStatus(r config.Request) int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// doRequests makes the policy's requests to the app at endpoint, in order. Only the end of
// ctx is an error.
func (s *Session) doRequests(ctx context.Context, endpoint string) ([]outcome, error) {
	out := make([]outcome, len(s.smoke.Requests))
	for i, r := range s.smoke.Requests {
		if endpoint == "" {
			out[i] = skip("the app has no published port")
			continue
		}
		out[i] = doRequest(ctx, endpoint, r, s.requestTimeout)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request %s: %w", requestName(r), ctx.Err())
		}
	}
	return out, nil
}

// doRequest makes one request and says whether it answered as r expects.
func doRequest(ctx context.Context, endpoint string, r config.Request, timeout time.Duration) outcome {
	var expect *regexp.Regexp
	if r.Expect != "" {
		var err error
		if expect, err = regexp.Compile(r.Expect); err != nil {
			return fail("expect %q is not a regular expression: %v", r.Expect, err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method(r), "http://"+endpoint+r.Path, strings.NewReader(r.Body))
	if err != nil {
		return fail("cannot make the request: %v", err)
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := requestClient.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err == nil {
			return judgeAnswer(resp.StatusCode, body, wantStatus(r), expect, time.Since(began))
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return outcome{State: timedOut, Detail: fmt.Sprintf("no answer within %s", timeout)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fail("%v", err)
}

// judgeAnswer compares an answer with what was expected.
func judgeAnswer(status int, body []byte, want int, expect *regexp.Regexp, took time.Duration) outcome {
	if status != want {
		return fail("status %d, want %d%s", status, want, quoteBody(body))
	}
	if expect != nil && !expect.Match(body) {
		return fail("status %d, but the body does not match %q%s", status, expect.String(), quoteBody(body))
	}
	return pass("%d in %s", status, took.Round(time.Millisecond))
}

// quoteBody quotes the start of a body for a failure message.
func quoteBody(body []byte) string {
	const n = 80
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return fmt.Sprintf(": %q", s)
}

// dialFunc connects to a TCP address from the app's network.
type dialFunc func(ctx context.Context, address string) (net.Conn, error)

// dialHere dials from this process's network namespace: the app's when it uses the host's network.
func dialHere(ctx context.Context, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", address)
}

// dialAll connects to each dependency with dial, from the app's network.
func dialAll(ctx context.Context, deps []config.Dependency, dial dialFunc) []outcome {
	out := make([]outcome, len(deps))
	for i, d := range deps {
		began := time.Now()
		dctx, cancel := context.WithTimeout(ctx, DialTimeout)
		c, err := dial(dctx, d.Address)
		cancel()
		if errors.Is(err, netns.ErrNotPermitted) {
			out[i] = skip("%v; run plimsoll as root or set app.hostNetwork to check it", err)
			continue
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				out[i] = fail("no TCP connect within %s", DialTimeout)
			} else {
				out[i] = fail("%v", err)
			}
			continue
		}
		c.Close()
		out[i] = pass("connected in %s", time.Since(began).Round(time.Millisecond))
	}
	return out
}

// dependencyName names a dependency in reports.
func dependencyName(d config.Dependency) string {
	if d.Name == "" {
		return d.Address
	}
	return d.Name + " (" + d.Address + ")"
}
