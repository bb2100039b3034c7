package rollout_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// startWebhook serves an acceptance-test webhook that passes and counts its calls.
func startWebhook(t *testing.T, calls *atomic.Int32) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
