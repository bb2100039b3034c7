package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/metrics"
	"github.com/plimsoll/plimsoll/internal/metrics/promtest"
)

func TestParseQueryResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    float64
		wantErr string // "" no error; "nodata" ErrNoData
	}{
		{"vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.995"]}]}}`, 0.995, ""},
		{"scalar", `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"42"]}}`, 42, ""},
		{"plus inf", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`, math.Inf(1), ""},
		{"empty vector", `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0, "nodata"},
		{"NaN", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, 0, "nodata"},
		{"two series", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"1"]},{"metric":{"pod":"b"},"value":[1,"2"]}]}}`, 0, "2 series"},
		{"api error", `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`, 0, "parse error at char 3"},
		{"matrix", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, 0, `"matrix"`},
		{"not json", `<html>`, 0, "decoding"},
		{"value not a number", `{"status":"success","data":{"resultType":"scalar","result":[1,"fast"]}}`, 0, `"fast"`},
		{"value not a string", `{"status":"success","data":{"resultType":"scalar","result":[1,0.5]}}`, 0, "sample value"},
		{"unknown status", `{"status":"partial"}`, 0, `"partial"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metrics.ParseQueryResponse([]byte(tt.body))
			switch {
			case tt.wantErr == "nodata":
				if !errors.Is(err, metrics.ErrNoData) {
					t.Fatalf("err = %v, want ErrNoData", err)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseQueryResponse(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.995"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"42"]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := metrics.ParseQueryResponse(body)
		if err == nil && math.IsNaN(v) {
			t.Fatalf("NaN returned without ErrNoData for %q", body)
		}
	})
}

func TestCompare(t *testing.T) {
	tests := []struct {
		v         float64
		op        metrics.Op
		threshold float64
		want      bool
	}{
		{0.995, metrics.AtLeast, 0.99, true},
		{0.99, metrics.AtLeast, 0.99, true},
		{0.98, metrics.AtLeast, 0.99, false},
		{0.2, metrics.AtMost, 0.5, true},
		{0.5, metrics.AtMost, 0.5, true},
		{0.7, metrics.AtMost, 0.5, false},
		{math.Inf(1), metrics.AtMost, 0.5, false},
		{1, metrics.Op("=="), 1, false},
	}
	for _, tt := range tests {
		if got := metrics.Compare(tt.v, tt.op, tt.threshold); got != tt.want {
			t.Errorf("Compare(%v %s %v) = %v, want %v", tt.v, tt.op, tt.threshold, got, tt.want)
		}
	}
}

func TestNewQueryGateRejects(t *testing.T) {
	prom, err := metrics.NewPrometheus("http://127.0.0.1:9", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, gate, canary string
		p                  metrics.Provider
		op                 metrics.Op
		threshold          float64
	}{
		{"no name", "", "up", prom, metrics.AtLeast, 1},
		{"no provider", "g", "up", nil, metrics.AtLeast, 1},
		{"bad op", "g", "up", prom, "==", 1},
		{"NaN threshold", "g", "up", prom, metrics.AtLeast, math.NaN()},
		{"empty query", "g", "", prom, metrics.AtLeast, 1},
		{"unparsable template", "g", "up{{", prom, metrics.AtLeast, 1},
		{"unknown field", "g", "up{pod={{.Pod}}}", prom, metrics.AtLeast, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metrics.NewQueryGate(tt.gate, tt.p, tt.canary, "", tt.op, tt.threshold)
			if !errors.Is(err, metrics.ErrBadGate) {
				t.Fatalf("err = %v, want ErrBadGate", err)
			}
		})
	}
}

func TestNewPrometheusRejects(t *testing.T) {
	for _, u := range []string{"", "prom:9090", "ftp://prom", "http://", "::"} {
		if _, err := metrics.NewPrometheus(u, nil); !errors.Is(err, metrics.ErrBadURL) {
			t.Errorf("NewPrometheus(%q) err = %v, want ErrBadURL", u, err)
		}
	}
}

// TestDefaultGates runs the default gates against a Prometheus-compatible server whose
// answers depend on which workload the query names.
func TestDefaultGates(t *testing.T) {
	target := metrics.Target{Namespace: "shop", Canary: "api-canary", Primary: "api", Weight: 25}
	tests := []struct {
		name      string
		canarySR  promtest.Answer
		canaryP99 promtest.Answer
		want      []metrics.Outcome
		wantMsg   string
	}{
		{name: "healthy", canarySR: promtest.Answer{Value: 0.999}, canaryP99: promtest.Answer{Value: 0.120},
			want: []metrics.Outcome{metrics.Pass, metrics.Pass}},
		{name: "errors", canarySR: promtest.Answer{Value: 0.93}, canaryP99: promtest.Answer{Value: 0.120},
			want: []metrics.Outcome{metrics.Fail, metrics.Pass}},
		{name: "slow", canarySR: promtest.Answer{Value: 1}, canaryP99: promtest.Answer{Value: 0.8},
			want: []metrics.Outcome{metrics.Pass, metrics.Fail}},
		{name: "no traffic yet", canarySR: promtest.Answer{NoData: true}, canaryP99: promtest.Answer{NoData: true},
			want: []metrics.Outcome{metrics.Inconclusive, metrics.Inconclusive}, wantMsg: "no data"},
		{name: "bad query", canarySR: promtest.Answer{Error: "parse error"}, canaryP99: promtest.Answer{Value: 0.1},
			want: []metrics.Outcome{metrics.Inconclusive, metrics.Pass}, wantMsg: "parse error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := promtest.Start(t, func(q string) promtest.Answer {
				canary := strings.Contains(q, `pod=~"api-canary-`)
				switch {
				case !strings.Contains(q, `namespace="shop"`):
					return promtest.Answer{Error: "wrong namespace in " + q}
				case strings.Contains(q, "http_requests_total") && canary:
					return tt.canarySR
				case strings.Contains(q, "http_requests_total"):
					return promtest.Answer{Value: 0.998}
				case strings.Contains(q, "histogram_quantile(0.99") && canary:
					return tt.canaryP99
				case strings.Contains(q, "histogram_quantile(0.99"):
					return promtest.Answer{Value: 0.1}
				}
				return promtest.Answer{Error: "unexpected query " + q}
			})
			prom, err := metrics.NewPrometheus(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			gates, err := metrics.DefaultGates(prom)
			if err != nil {
				t.Fatal(err)
			}
			ms := metrics.Evaluate(context.Background(), gates, target)
			if len(ms) != len(tt.want) {
				t.Fatalf("got %d measurements, want %d", len(ms), len(tt.want))
			}
			for i, m := range ms {
				if m.Outcome != tt.want[i] {
					t.Errorf("%s: outcome %s, want %s (%s)", m.Gate, m.Outcome, tt.want[i], m)
				}
				if m.Primary == "" {
					t.Errorf("%s: no primary baseline measured", m.Gate)
				}
			}
			if ms[0].Outcome == metrics.Fail && ms[0].String() != "success-rate fail canary=0.93 primary=0.998 (>= 0.99)" {
				t.Errorf("breach shown as %q", ms[0])
			}
			if tt.wantMsg != "" && !strings.Contains(ms[0].Message+ms[1].Message, tt.wantMsg) {
				t.Errorf("messages %q / %q, want one containing %q", ms[0].Message, ms[1].Message, tt.wantMsg)
			}
			if w := metrics.Worst(ms); w != max(tt.want[0], tt.want[1]) {
				t.Errorf("Worst = %s", w)
			}
			if n := len(srv.Queries()); n != 4 {
				t.Errorf("%d queries, want 4 (canary and primary of two gates)", n)
			}
		})
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	prom, err := metrics.NewPrometheus(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prom.Query(context.Background(), "up"); err == nil || errors.Is(err, metrics.ErrNoData) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	g, err := metrics.NewQueryGate("up", prom, "up", "", metrics.AtLeast, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Evaluate(context.Background(), metrics.Target{}); m.Outcome != metrics.Inconclusive {
		t.Fatalf("outcome %s, want inconclusive", m.Outcome)
	}
}

func TestPrometheusHTTPStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	prom, err := metrics.NewPrometheus(srv.URL+"/prefix", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prom.Query(context.Background(), "up")
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("err = %v, want HTTP 502", err)
	}
}

func TestWebhook(t *testing.T) {
	var got metrics.WebhookRequest
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusMethodNotAllowed)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("3 of 40 acceptance tests failed\nmore detail"))
	}))
	target := metrics.Target{Namespace: "shop", Canary: "api-canary", Primary: "api", Weight: 50}
	wh, err := metrics.NewWebhook("acceptance", srv.URL+"/run", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if m := wh.Evaluate(ctx, target); m.Outcome != metrics.Pass {
		t.Fatalf("2xx: %s", m)
	}
	want := metrics.WebhookRequest{Gate: "acceptance", Namespace: "shop", Canary: "api-canary", Primary: "api", Weight: 50}
	if got != want {
		t.Fatalf("webhook received %+v, want %+v", got, want)
	}
	status = http.StatusInternalServerError
	m := wh.Evaluate(ctx, target)
	if m.Outcome != metrics.Fail || m.Message != "3 of 40 acceptance tests failed" || m.Canary != "HTTP 500" {
		t.Fatalf("5xx: %s", m)
	}
	srv.Close()
	if m := wh.Evaluate(ctx, target); m.Outcome != metrics.Inconclusive {
		t.Fatalf("closed server: %s", m)
	}
	if _, err := metrics.NewWebhook("x", "/relative", nil); !errors.Is(err, metrics.ErrBadGate) {
		t.Fatalf("relative URL: err = %v", err)
	}
}
