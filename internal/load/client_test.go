package load

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Whatever a configuration says, what goes on the wire is exactly one well-formed request with
// the configured method, body and headers: no header or request smuggling.
func FuzzRequestWire(f *testing.F) {
	f.Add("GET", "/", "", "X-A", "1", "")
	f.Add("POST", "/c?q=1&r=%20", `{"x":1}`, "Content-Type", "application/json", "svc.test")
	f.Add("GE T", "/\r\nX: y", "", "Bad\r\nKey", "v\r\nInjected: 1", "h\r\nx")
	f.Add("PUT", "/x", "body", "Content-Length", "999", "")
	f.Add("GET", "/a b", "", "X", "\x00", "a:b@c")
	f.Fuzz(func(t *testing.T, method, path, body, hk, hv, host string) {
		h := http.Header{hk: {hv}}
		if host != "" {
			h["Host"] = []string{host}
		}
		m, err := newMix([]Request{{Method: method, Path: path, Body: []byte(body), Headers: h}})
		if err != nil {
			return
		}
		c, err := newClient(Target{BaseURL: "http://127.0.0.1:1/base"}, m, 1)
		if err != nil {
			return
		}
		br := bufio.NewReader(bytes.NewReader(c.raw[0]))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("request on the wire does not parse: %v\n%q", err, c.raw[0])
		}
		got, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("body: %v\n%q", err, c.raw[0])
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Fatalf("%d bytes after the request: %q", len(rest), c.raw[0])
		}
		if string(got) != body {
			t.Fatalf("body %q, want %q", got, body)
		}
		if want := c.reqs[0].Method; req.Method != want {
			t.Fatalf("method %q, want %q", req.Method, want)
		}
	})
}
