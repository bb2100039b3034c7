// Package metrics measures a canary against its primary while a rollout shifts traffic: a
// Provider answers queries (Prometheus's HTTP API), and Gates turn measurements into an
// outcome — pass, fail, or inconclusive when there was nothing to measure. Webhook gates hand
// the decision to an external acceptance or load test.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// ErrNoData is returned (wrapped) by a Provider whose query matched no series, or whose
// value is NaN (a rate over no requests): there was nothing to measure.
var ErrNoData = errors.New("no data")

// Provider answers a query with one number.
//
// Query returns the single value the query evaluates to now. An empty result is ErrNoData;
// a result of more than one series is an error (the query must aggregate); any other error
// means the provider could not be asked.
type Provider interface {
	Query(ctx context.Context, query string) (float64, error)
}

// Target names what a gate measures: the workloads in one namespace. Query templates see
// it as {{.Namespace}}, {{.Canary}} and {{.Primary}}.
type Target struct {
	Namespace string
	Canary    string // the canary (or green) Deployment, "<name>-canary"
	Primary   string // the primary (or blue) Deployment
	// Weight is the percentage of traffic the canary receives now; webhooks are told it.
	Weight int
}

// Outcome is what a gate concluded. The zero value is Pass; a larger value is worse.
type Outcome int

const (
	// Pass: the canary meets the gate.
	Pass Outcome = iota
	// Inconclusive: the gate could not tell (no data, provider unreachable).
	Inconclusive
	// Fail: the canary breaches the gate.
	Fail
)

func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Inconclusive:
		return "inconclusive"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Measurement is one gate's evaluation.
type Measurement struct {
	Gate    string
	Outcome Outcome
	// Canary and Primary are the measured values as text ("0.9712", "204"), "" when not
	// measured; Threshold is the condition ("≥ 0.99").
	Canary, Primary, Threshold string
	// Message says why the outcome is not Pass ("no data", "HTTP 500").
	Message string
}

func (m Measurement) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", m.Gate, m.Outcome)
	if m.Canary != "" {
		fmt.Fprintf(&b, " canary=%s", m.Canary)
	}
	if m.Primary != "" {
		fmt.Fprintf(&b, " primary=%s", m.Primary)
	}
	if m.Threshold != "" {
		fmt.Fprintf(&b, " (%s)", m.Threshold)
	}
	if m.Message != "" {
		fmt.Fprintf(&b, ": %s", m.Message)
	}
	return b.String()
}

// Gate evaluates one condition on the canary. Evaluate never returns an error: a gate that
// cannot tell says Inconclusive, with the reason in Message.
type Gate interface {
	Name() string
	Evaluate(ctx context.Context, t Target) Measurement
}

// Evaluate runs every gate, in order.
func Evaluate(ctx context.Context, gates []Gate, t Target) []Measurement {
	ms := make([]Measurement, 0, len(gates))
	for _, g := range gates {
		ms = append(ms, g.Evaluate(ctx, t))
	}
	return ms
}

// Worst is the worst outcome of ms; Pass when ms is empty.
func Worst(ms []Measurement) Outcome {
	w := Pass
	for _, m := range ms {
		w = max(w, m.Outcome)
	}
	return w
}

// render executes a query template against t; a template that does not parse or execute is
// reported by the gate's constructor or as its message.
func render(tmpl *template.Template, t Target) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, t); err != nil {
		return "", fmt.Errorf("query template %s: %w", tmpl.Name(), err)
	}
	return b.String(), nil
}
