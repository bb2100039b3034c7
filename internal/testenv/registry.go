package testenv

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry serves an in-memory OCI registry (go-containerregistry's) on 127.0.0.1 for the
// test, closed at its end, and returns its host:port. wrap, when not nil, wraps the
// registry's handler (to stall it or count requests); opts are the registry's own
// (registry.WithReferrersSupport).
func Registry(t testing.TB, wrap func(http.Handler) http.Handler, opts ...registry.Option) string {
	t.Helper()
	var h http.Handler = registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
