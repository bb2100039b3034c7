package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Webhook is a gate that asks an external service — an acceptance suite, a load test — by
// POSTing the Target as JSON. A 2xx answer passes, any other status fails (the first line
// of the body is the message), and a request that gets no answer is Inconclusive.
type Webhook struct {
	name   string
	url    string
	client *http.Client
}

// WebhookRequest is the JSON body a webhook receives.
type WebhookRequest struct {
	Gate      string `json:"gate"`
	Namespace string `json:"namespace"`
	Canary    string `json:"canary"`
	Primary   string `json:"primary"`
	Weight    int    `json:"weight"`
}

// NewWebhook returns a gate named name POSTing to rawURL (absolute http or https) with
// client (nil is http.DefaultClient).
func NewWebhook(name, rawURL string, client *http.Client) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: webhook %q: want an absolute http(s) URL", ErrBadGate, rawURL)
	}
	if name == "" {
		name = "webhook " + u.Host + u.Path
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Webhook{name: name, url: u.String(), client: client}, nil
}

// Name is the gate's name.
func (w *Webhook) Name() string { return w.name }

// Evaluate POSTs t and reads the answer's status.
func (w *Webhook) Evaluate(ctx context.Context, t Target) Measurement {
	m := Measurement{Gate: w.name, Threshold: "2xx"}
	body, err := json.Marshal(WebhookRequest{Gate: w.name, Namespace: t.Namespace, Canary: t.Canary, Primary: t.Primary, Weight: t.Weight})
	if err != nil {
		m.Outcome, m.Message = Inconclusive, err.Error()
		return m
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		m.Outcome, m.Message = Inconclusive, err.Error()
		return m
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		m.Outcome, m.Message = Inconclusive, fmt.Sprintf("webhook: %v", err)
		return m
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512)) // the message is best effort
	m.Canary = fmt.Sprintf("HTTP %d", resp.StatusCode)
	if resp.StatusCode/100 != 2 {
		m.Outcome = Fail
		m.Message = firstLine(string(msg))
	}
	return m
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return s[:i]
		}
	}
	return s
}
