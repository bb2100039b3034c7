package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"text/template"
)

// Op is how a gate compares the canary's value with its threshold.
type Op string

const (
	AtLeast Op = ">=" // the canary's value must be at least the threshold (success rate)
	AtMost  Op = "<=" // the canary's value must be at most the threshold (latency)
)

// QueryGate is a gate on a metric: the canary's value (from the Canary query) must meet
// Threshold; the primary's value (from the Primary query, when there is one) is measured
// beside it as the baseline, so every step shows canary against primary.
type QueryGate struct {
	name      string
	provider  Provider
	canary    *template.Template
	primary   *template.Template // nil: no baseline
	op        Op
	threshold float64
}

// ErrBadGate is returned (wrapped) for a gate that cannot be built: an empty name, an
// unknown comparison, a query template that does not parse.
var ErrBadGate = errors.New("bad gate")

// NewQueryGate builds a gate named name whose canary value is the query canaryQuery (a
// text/template over Target) compared with threshold by op. primaryQuery may be "".
func NewQueryGate(name string, p Provider, canaryQuery, primaryQuery string, op Op, threshold float64) (*QueryGate, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: a gate needs a name", ErrBadGate)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: gate %s has no metrics provider", ErrBadGate, name)
	}
	if op != AtLeast && op != AtMost {
		return nil, fmt.Errorf("%w: gate %s: comparison %q: use >= or <=", ErrBadGate, name, op)
	}
	if math.IsNaN(threshold) || math.IsInf(threshold, 0) {
		return nil, fmt.Errorf("%w: gate %s: threshold %v", ErrBadGate, name, threshold)
	}
	g := &QueryGate{name: name, provider: p, op: op, threshold: threshold}
	var err error
	if g.canary, err = parseQuery(name+".canary", canaryQuery); err != nil {
		return nil, err
	}
	if primaryQuery != "" {
		if g.primary, err = parseQuery(name+".primary", primaryQuery); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func parseQuery(name, q string) (*template.Template, error) {
	if q == "" {
		return nil, fmt.Errorf("%w: %s: empty query", ErrBadGate, name)
	}
	t, err := template.New(name).Option("missingkey=error").Parse(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadGate, name, err)
	}
	// A field that Target does not have is found now, not in the middle of a rollout.
	if _, err := render(t, Target{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGate, err)
	}
	return t, nil
}

// CheckQuery reports what is wrong with a gate's query template, nil when nothing is.
func CheckQuery(q string) error {
	_, err := parseQuery("query", q)
	return err
}

// Name is the gate's name.
func (g *QueryGate) Name() string { return g.name }

// Evaluate measures the canary (and the primary) and compares. No data, or a provider that
// cannot be asked, is Inconclusive; a failing primary query only loses the baseline.
func (g *QueryGate) Evaluate(ctx context.Context, t Target) Measurement {
	m := Measurement{Gate: g.name, Threshold: string(g.op) + " " + formatValue(g.threshold)}
	if g.primary != nil {
		if v, err := g.query(ctx, g.primary, t); err == nil {
			m.Primary = formatValue(v)
		}
	}
	v, err := g.query(ctx, g.canary, t)
	if err != nil {
		m.Outcome, m.Message = Inconclusive, err.Error()
		return m
	}
	m.Canary = formatValue(v)
	if !Compare(v, g.op, g.threshold) {
		m.Outcome = Fail // the values and the threshold say why
	}
	return m
}

func (g *QueryGate) query(ctx context.Context, tmpl *template.Template, t Target) (float64, error) {
	q, err := render(tmpl, t)
	if err != nil {
		return 0, err
	}
	return g.provider.Query(ctx, q)
}

// Compare reports whether v meets threshold under op.
func Compare(v float64, op Op, threshold float64) bool {
	switch op {
	case AtLeast:
		return v >= threshold
	case AtMost:
		return v <= threshold
	}
	return false
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// The default gates' queries, over the conventional http_requests_total counter (with a
// "code" label) and http_request_duration_seconds histogram, by pod name prefix.
const (
	SuccessRateQuery        = `sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Canary}}-[a-z0-9]+-[a-z0-9]+",code!~"5.."}[1m])) / sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Canary}}-[a-z0-9]+-[a-z0-9]+"}[1m]))`
	SuccessRatePrimaryQuery = `sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Primary}}-[a-z0-9]+-[a-z0-9]+",code!~"5.."}[1m])) / sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Primary}}-[a-z0-9]+-[a-z0-9]+"}[1m]))`
	LatencyP99Query         = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{.Namespace}}",pod=~"{{.Canary}}-[a-z0-9]+-[a-z0-9]+"}[1m])))`
	LatencyP99PrimaryQuery  = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{.Namespace}}",pod=~"{{.Primary}}-[a-z0-9]+-[a-z0-9]+"}[1m])))`
)

// DefaultGates are the gates of a rollout that names a Prometheus and no gates of its own:
// request success rate ≥ 99 % and p99 latency ≤ 500 ms, canary against primary.
func DefaultGates(p Provider) ([]Gate, error) {
	sr, err := NewQueryGate("success-rate", p, SuccessRateQuery, SuccessRatePrimaryQuery, AtLeast, 0.99)
	if err != nil {
		return nil, err
	}
	lat, err := NewQueryGate("latency-p99", p, LatencyP99Query, LatencyP99PrimaryQuery, AtMost, 0.5)
	if err != nil {
		return nil, err
	}
	return []Gate{sr, lat}, nil
}
