package perf_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
)

// The perf section of the policy file: decoded strictly, every field validated at its YAML path.
func TestPerfConfig(t *testing.T) {
	head := "apiVersion: plimsoll/v1\nkind: Policy\nperf:\n"
	p, err := config.Parse([]byte(head + `  rounds: 20
  roundDuration: 3s
  rate: 250
  connections: 10
  warmup: 2s
  coldStarts: 7
  metricsPath: /metrics
  thresholds: {p95: 15, rss: 3}
  mix:
    - {method: POST, path: /api, body: "{}", headers: {content-type: application/json}, weight: 3}
    - {path: /}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Perf.WithDefaults()
	if got.Rounds != 20 || got.RoundDuration != 3*time.Second || got.Rate != 250 || got.Connections != 10 ||
		got.Warmup != 2*time.Second || got.ColdStarts != 7 || got.MetricsPath != "/metrics" || len(got.Mix) != 2 ||
		got.Mix[0].Weight != 3 || got.Mix[0].Headers["content-type"] != "application/json" {
		t.Errorf("decoded %+v", got)
	}
	if th := got.Thresholds; th.P95 != 15 || th.RSS != 3 || th.ColdStart != 10 || th.Throughput != 10 || th.GCPause != 5 || th.CPUPerRequest != 10 {
		t.Errorf("thresholds %+v: want p95 15, rss 3 and the seed's others", th)
	}

	d := config.DefaultPerf()
	if d.Rounds != 14 || d.RoundDuration != 5*time.Second || d.Rate != 100 || d.Connections != 100 || d.ColdStarts != 5 ||
		len(d.Mix) != 1 || d.Mix[0].Path != "/" || d.MetricsPath != "" {
		t.Errorf("DefaultPerf() = %+v", d)
	}

	_, err = config.Parse([]byte(head + `  rounds: -1
  roundDuration: -1s
  rate: -5
  connections: 20000
  warmup: -1s
  coldStarts: -2
  metricsPath: metrics
  thresholds: {throughput: 100, gcPause: -1}
  mix:
    - {method: "GE T", path: api, weight: -1, headers: {"bad name": x}}
`))
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("err %v: want ErrInvalid", err)
	}
	for _, path := range []string{"perf.rounds", "perf.roundDuration", "perf.rate", "perf.connections", "perf.warmup",
		"perf.coldStarts", "perf.metricsPath", "perf.thresholds.throughput", "perf.thresholds.gcPause",
		"perf.mix[0].method", "perf.mix[0].path", "perf.mix[0].weight", "perf.mix[0].headers"} {
		if !strings.Contains(err.Error(), path+":") && !strings.Contains(err.Error(), path+" ") {
			t.Errorf("no problem at %s in:\n%v", path, err)
		}
	}
}
