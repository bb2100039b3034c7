// Package promtest serves the Prometheus instant-query API (/api/v1/query) from a function,
// on loopback, for tests of gates and rollouts: the test decides, query by query, what the
// "Prometheus" answers.
package promtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Answer is what the server returns for one query.
type Answer struct {
	// Value is the single sample's value; ignored when NoData or Error is set.
	Value float64
	// NoData answers with an empty vector.
	NoData bool
	// Error answers with HTTP 400 and a Prometheus error body carrying this message.
	Error string
}

// Server is a Prometheus-compatible query endpoint.
type Server struct {
	URL string

	mu      sync.Mutex
	queries []string
}

// Start serves answer on 127.0.0.1 until the test ends. answer is called for every query,
// possibly from several goroutines at once.
func Start(t testing.TB, answer func(query string) Answer) *Server {
	t.Helper()
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query")
		s.mu.Lock()
		s.queries = append(s.queries, q)
		s.mu.Unlock()
		a := answer(q)
		w.Header().Set("Content-Type", "application/json")
		var body any
		switch {
		case a.Error != "":
			w.WriteHeader(http.StatusBadRequest)
			body = map[string]any{"status": "error", "errorType": "bad_data", "error": a.Error}
		case a.NoData:
			body = map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": []any{}}}
		default:
			now := float64(time.Now().UnixMilli()) / 1000
			body = map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": []any{
				map[string]any{"metric": map[string]string{}, "value": []any{now, strconv.FormatFloat(a.Value, 'g', -1, 64)}},
			}}}
		}
		if err := json.NewEncoder(w).Encode(body); err != nil {
			t.Errorf("promtest: %v", err)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Queries returns the queries received so far, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}
