package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeliveryParse(t *testing.T) {
	p, err := Parse([]byte(header + `delivery:
  fallback: apply
  mirrors:
    docker.io: [mirror.internal:5000/cache, 127.0.0.1:5001]
    registry.example.com: [registry-eu.example.com]
    localhost:5000: [localhost:5001/a/b]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Delivery{Fallback: "apply", Mirrors: map[string][]string{
		"docker.io":            {"mirror.internal:5000/cache", "127.0.0.1:5001"},
		"registry.example.com": {"registry-eu.example.com"},
		"localhost:5000":       {"localhost:5001/a/b"},
	}}
	if d := cmp.Diff(want, p.Delivery); d != "" {
		t.Errorf("delivery (-want +got):\n%s", d)
	}
	if p.Delivery.FallbackMode() != "apply" {
		t.Errorf("FallbackMode() = %q", p.Delivery.FallbackMode())
	}
	if d := Default().Delivery; d.FallbackMode() != "offer" || d.Mirrors != nil {
		t.Errorf("default delivery %+v, mode %q; want offer and no mirrors", d, d.FallbackMode())
	}
	for _, m := range FallbackModes {
		if _, err := Parse([]byte(header + "delivery: {fallback: " + m + "}\n")); err != nil {
			t.Errorf("fallback %s: %v", m, err)
		}
	}
}

func TestDeliveryProblems(t *testing.T) {
	_, err := Parse([]byte(header + `delivery:
  fallback: always
  mirrors:
    https://registry.example.com: [mirror.example.com]
    "bad host.example.com": [mirror.example.com]
    registry.example.com/team: [mirror.example.com]
    myregistry: [mirror.example.com]
    empty.example.com: []
    null.example.com:
    ok.example.com:
      - http://mirror.example.com
      - mirror.example.com/Cache
      - "mirror .example.com"
      - mirror.example.com:99999999
      - ""
      - mirror.example.com/
      - cache
      - m2.example.com
      - m2.example.com
  mirror: {}
`))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`line 4: delivery.fallback: "always": use offer, apply, off`,
		`line 6: delivery.mirrors.https://registry.example.com: "https://registry.example.com": a registry host has no scheme`,
		`line 7: delivery.mirrors.bad host.example.com: "bad host.example.com": a registry host has no spaces`,
		`line 8: delivery.mirrors.registry.example.com/team: "registry.example.com/team": a registry host has no path`,
		`line 9: delivery.mirrors.myregistry: "myregistry": not a registry host`,
		`line 10: delivery.mirrors.empty.example.com: empty: list the registries`,
		`delivery.mirrors.null.example.com: empty`,
		`line 13: delivery.mirrors.ok.example.com[0]: "http://mirror.example.com": a mirror has no scheme`,
		`line 14: delivery.mirrors.ok.example.com[1]: "mirror.example.com/Cache": the path prefix is not a repository path`,
		`line 15: delivery.mirrors.ok.example.com[2]: "mirror .example.com": a mirror has no spaces`,
		`line 16: delivery.mirrors.ok.example.com[3]: "mirror.example.com:99999999": port "99999999": want 1 to 65535`,
		`line 17: delivery.mirrors.ok.example.com[4]: empty mirror`,
		`line 18: delivery.mirrors.ok.example.com[5]: "mirror.example.com/": the path prefix has an empty part`,
		`line 19: delivery.mirrors.ok.example.com[6]: "cache": not a registry host`,
		`line 21: delivery.mirrors.ok.example.com[8]: "m2.example.com" given twice`,
		`line 22: delivery.mirror: unknown field: use fallback, mirrors, rollout`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 16 {
		t.Errorf("%d problems, want 16:\n%v", n, err)
	}
}

func TestExampleDelivery(t *testing.T) {
	p, err := Load(t.Context(), filepath.Join("..", "..", "examples", "policy.yaml"))
	if err != nil {
		t.Fatalf("examples/policy.yaml: %v", err)
	}
	want := Delivery{Fallback: "offer", Mirrors: map[string][]string{
		"registry.example.com": {"registry-eu.example.com", "mirror.internal:5000/cache"},
	}, Rollout: Rollout{Steps: []int{10, 25, 50, 75, 100}, Pause: 30 * time.Second, Interval: 10 * time.Second,
		ReadyTimeout: 5 * time.Minute, MaxInconclusive: 3}}
	if d := cmp.Diff(want, p.Delivery); d != "" {
		t.Errorf("example delivery (-want +got):\n%s", d)
	}
}

func TestRolloutPolicy(t *testing.T) {
	p, err := Parse([]byte(header + `delivery:
  rollout:
    steps: [20, 100]
    pause: 1m
    prometheus: http://prometheus.monitoring:9090
    gates:
      - name: errors
        query: 'errors{pod=~"{{.Canary}}-.*"}'
        primaryQuery: 'errors{pod=~"{{.Primary}}-.*"}'
        max: 0.01
      - name: saturation
        query: 'sat{ns="{{.Namespace}}",w="{{.Weight}}"}'
        min: 0.5
    webhooks: [https://acceptance.example/run]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Delivery.Rollout
	if len(r.Gates) != 2 || *r.Gates[0].Max != 0.01 || r.Gates[0].Min != nil || *r.Gates[1].Min != 0.5 || r.Pause != time.Minute || len(r.Webhooks) != 1 {
		t.Errorf("rollout %+v", r)
	}
	_, err = Parse([]byte(header + `delivery:
  rollout:
    steps: [50, 20, 100]
    pause: -1s
    maxInconclusive: -2
    prometheus: prometheus:9090
    webhooks: [/hook]
    gates:
      - name: a
        query: 'x{p="{{.Pod}}"}'
        max: 1
      - name: a
        query: 'y{'
        primaryQuery: '{{'
        min: 1
        max: 2
      - query: z
      - name: b
        query: 'q'
`))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`delivery.rollout.steps: [50 20 100]: want weights in 1..100, strictly increasing`,
		`delivery.rollout.pause: -1s is negative`,
		`delivery.rollout.maxInconclusive: -2 is negative`,
		`delivery.rollout.prometheus: "prometheus:9090": want an http:// or https:// URL`,
		`delivery.rollout.webhooks[0]: "/hook": want an http:// or https:// URL`,
		`delivery.rollout.gates[0].query: bad gate:`, // .Pod is not a field of the target
		`delivery.rollout.gates[1].name: "a" is already the name of a gate`,
		`delivery.rollout.gates[1].primaryQuery: bad gate:`,
		`delivery.rollout.gates[1]: give min or max, not both`,
		`delivery.rollout.gates[2].name: missing`,
		`delivery.rollout.gates[3]: give min or max: the bound`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}
