package config

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/metrics"
)

// Rollout is the policy of `plimsoll rollout`: the defaults of its flags (a flag given on the
// command line wins) and the metric gates, which replace the built-in success-rate and
// latency gates when any is listed.
type Rollout struct {
	// Steps are the canary's traffic weights in percent, strictly increasing, the last 100.
	Steps []int `yaml:"steps"`
	// Pause is how long each step is held with the gates passing.
	Pause time.Duration `yaml:"pause"`
	// Interval is how often the canary and the gates are observed.
	Interval time.Duration `yaml:"interval"`
	// ReadyTimeout aborts a canary not Ready this long after it was scaled.
	ReadyTimeout time.Duration `yaml:"readyTimeout"`
	// MaxInconclusive is the number of inconclusive gate evaluations in a row that aborts.
	MaxInconclusive int `yaml:"maxInconclusive"`
	// Prometheus is the base URL the gates' queries go to.
	Prometheus string `yaml:"prometheus"`
	// Gates are metric gates on Prometheus queries.
	Gates []Gate `yaml:"gates"`
	// Webhooks are URLs POSTed the rollout's target at each step; a 2xx answer passes.
	Webhooks []string `yaml:"webhooks"`
}

// Gate is one metric gate: the canary's value of Query must stay within Min and/or Max;
// PrimaryQuery, when given, measures the primary beside it as the baseline. Queries are
// PromQL templates over {{.Namespace}}, {{.Canary}}, {{.Primary}} and {{.Weight}}.
type Gate struct {
	Name         string   `yaml:"name"`
	Query        string   `yaml:"query"`
	PrimaryQuery string   `yaml:"primaryQuery"`
	Min          *float64 `yaml:"min"`
	Max          *float64 `yaml:"max"`
}

func (r Rollout) problems(path string) []*Problem {
	var ps []*Problem
	add := func(at, format string, args ...any) {
		ps = append(ps, &Problem{Path: path + at, Msg: fmt.Sprintf(format, args...)})
	}
	for i, w := range r.Steps {
		if w <= 0 || w > 100 || (i > 0 && w <= r.Steps[i-1]) {
			add(".steps", "%v: want weights in 1..100, strictly increasing", r.Steps)
			break
		}
	}
	if n := len(r.Steps); n > 0 && r.Steps[n-1] != 100 {
		add(".steps", "%v: the last step must be 100", r.Steps)
	}
	for _, d := range []struct {
		at string
		v  time.Duration
	}{{".pause", r.Pause}, {".interval", r.Interval}, {".readyTimeout", r.ReadyTimeout}} {
		if d.v < 0 {
			add(d.at, "%s is negative", d.v)
		}
	}
	if r.MaxInconclusive < 0 {
		add(".maxInconclusive", "%d is negative", r.MaxInconclusive)
	}
	if r.Prometheus != "" && !absoluteURL(r.Prometheus) {
		add(".prometheus", "%q: want an http:// or https:// URL", r.Prometheus)
	}
	for i, u := range r.Webhooks {
		if !absoluteURL(u) {
			add(fmt.Sprintf(".webhooks[%d]", i), "%q: want an http:// or https:// URL", u)
		}
	}
	var seen []string
	for i, g := range r.Gates {
		at := fmt.Sprintf(".gates[%d]", i)
		switch {
		case g.Name == "":
			add(at+".name", "missing: every gate has a name")
		case slices.Contains(seen, g.Name):
			add(at+".name", "%q is already the name of a gate", g.Name)
		}
		seen = append(seen, g.Name)
		if g.Query == "" {
			add(at+".query", "missing: the PromQL query of the canary's value")
		} else if err := metrics.CheckQuery(g.Query); err != nil {
			add(at+".query", "%v", err)
		}
		if g.PrimaryQuery != "" {
			if err := metrics.CheckQuery(g.PrimaryQuery); err != nil {
				add(at+".primaryQuery", "%v", err)
			}
		}
		switch {
		case g.Min == nil && g.Max == nil:
			add(at, "give min or max: the bound the canary's value must keep")
		case g.Min != nil && g.Max != nil:
			add(at, "give min or max, not both: split it into two gates")
		}
	}
	return ps
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
