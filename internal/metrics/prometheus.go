package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Prometheus is a Provider over Prometheus's HTTP API (GET /api/v1/query, an instant query).
//
// It is written with net/http and encoding/json instead of the official client library
// (github.com/prometheus/client_golang/api): one endpoint and one small JSON shape are all a
// gate needs, and the library is not in our module graph — it would bring its own transport
// and model packages for what is forty lines here. Anything that speaks the same API
// (Thanos, Mimir, VictoriaMetrics) works too.
type Prometheus struct {
	base   *url.URL
	client *http.Client
}

// ErrBadURL is returned (wrapped) by NewPrometheus for a URL that is not absolute http(s).
var ErrBadURL = errors.New("bad Prometheus URL")

// NewPrometheus returns a Provider asking the Prometheus at baseURL ("http://prom:9090",
// or with a path prefix). client nil is http.DefaultClient; its timeout and the ctx of each
// query bound a query.
func NewPrometheus(baseURL string, client *http.Client) (*Prometheus, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q: want http(s)://host[:port][/prefix]", ErrBadURL, baseURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Prometheus{base: u, client: client}, nil
}

// maxBody caps the response read: an instant query for one series is a few hundred bytes.
const maxBody = 1 << 20

// Query runs an instant query and returns its single value.
func (p *Prometheus) Query(ctx context.Context, query string) (float64, error) {
	u := p.base.JoinPath("api", "v1", "query")
	u.RawQuery = url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, fmt.Errorf("prometheus query: reading the response: %w", err)
	}
	// Prometheus answers a bad query with 400 and an error body; parse it for the message.
	v, err := ParseQueryResponse(body)
	if err != nil && resp.StatusCode/100 != 2 && !errors.Is(err, errAPI) {
		return 0, fmt.Errorf("prometheus query: HTTP %d", resp.StatusCode)
	}
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	return v, nil
}

// errAPI marks an error Prometheus itself reported (status "error").
var errAPI = errors.New("prometheus error")

// queryResponse is the envelope of /api/v1/query.
type queryResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is [unix time, "value"], as Prometheus encodes a scalar or a vector element's value.
type sample [2]json.RawMessage

type vectorElem struct {
	Metric map[string]string `json:"metric"`
	Value  sample            `json:"value"`
}

// ParseQueryResponse reads the body of an instant query: a vector of exactly one element or
// a scalar gives its value; an empty vector or a NaN value is ErrNoData.
func ParseQueryResponse(body []byte) (float64, error) {
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("decoding the response: %w", err)
	}
	if r.Status != "success" {
		if r.Status == "error" {
			return 0, fmt.Errorf("%w: %s: %s", errAPI, r.ErrorType, r.Error)
		}
		return 0, fmt.Errorf("response status %q", r.Status)
	}
	var s sample
	switch r.Data.ResultType {
	case "vector":
		var v []vectorElem
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return 0, fmt.Errorf("decoding the vector: %w", err)
		}
		switch len(v) {
		case 0:
			return 0, ErrNoData
		case 1:
			s = v[0].Value
		default:
			return 0, fmt.Errorf("the query returned %d series, want one: aggregate it (sum, avg, …)", len(v))
		}
	case "scalar":
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return 0, fmt.Errorf("decoding the scalar: %w", err)
		}
	default:
		return 0, fmt.Errorf("result type %q, want vector or scalar", r.Data.ResultType)
	}
	var text string
	if err := json.Unmarshal(s[1], &text); err != nil {
		return 0, fmt.Errorf("decoding the sample value: %w", err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q: %w", text, err)
	}
	if math.IsNaN(v) {
		return 0, ErrNoData
	}
	return v, nil
}
