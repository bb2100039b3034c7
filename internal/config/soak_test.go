package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSoakSection(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []string // substrings of the problems, in order; none for a valid policy
		check func(t *testing.T, s Soak)
	}{
		{
			name: "defaults are the seed",
			yaml: "",
			check: func(t *testing.T, s Soak) {
				w := s.WithDefaults()
				if w.Duration != 24*time.Hour || w.Interval != time.Minute || w.Warmup != 30*time.Minute ||
					w.Load.Rate != 20 || w.Limits.MemoryFail != 30 || w.Limits.MemoryStop != 50 || w.Limits.FDs != 1024 ||
					w.Limits.HealthRate != 99 || w.Limits.HealthStop != 3 || w.Limits.ErrorsPerMinute != 1 || w.Limits.CPU != 80 {
					t.Errorf("defaults: %+v", w)
				}
			},
		},
		{
			name: "seconds for tests",
			yaml: "soak:\n  duration: 40s\n  interval: 1s\n  warmup: 5s\n  load: {rate: 50, connections: 4}\n  limits: {memoryFail: 25}\n",
			check: func(t *testing.T, s Soak) {
				w := s.WithDefaults()
				if w.Duration != 40*time.Second || w.Interval != time.Second || w.Warmup != 5*time.Second ||
					w.Load.Rate != 50 || w.Limits.MemoryFail != 25 || w.Limits.MemoryStop != 50 {
					t.Errorf("got %+v", w)
				}
			},
		},
		{
			name: "short default warm-up",
			yaml: "soak:\n  duration: 60s\n  interval: 1s\n",
			check: func(t *testing.T, s Soak) {
				if w := s.WithDefaults(); w.Warmup != 6*time.Second {
					t.Errorf("warmup %s, want 6s", w.Warmup)
				}
			},
		},
		{
			name: "memory noise floor",
			yaml: "soak:\n  limits: {memoryNoiseFloor: 512k}\n",
			check: func(t *testing.T, s Soak) {
				if got := s.WithDefaults().Limits.NoiseFloor(); got != 512<<10 {
					t.Errorf("noise floor %v, want 512 KiB", got)
				}
				if got := (Soak{}).WithDefaults().Limits.NoiseFloor(); got != 8<<20 {
					t.Errorf("default noise floor %v, want 8 MiB", got)
				}
			},
		},
		{name: "bad memory noise floor", yaml: "soak:\n  limits: {memoryNoiseFloor: lots}\n", want: []string{`soak.limits.memoryNoiseFloor: "lots" is not a size`}},
		{name: "unknown key", yaml: "soak:\n  durration: 1h\n", want: []string{"soak.durration: unknown field"}},
		{name: "too few samples", yaml: "soak:\n  duration: 2s\n  interval: 1s\n", want: []string{"soak.interval: 1s in a soak of 2s is 2 samples"}},
		{name: "negative", yaml: "soak:\n  duration: -1s\n  warmup: -1s\n", want: []string{"soak.duration", "soak.warmup: -1s is negative"}},
		{name: "warm-up too long", yaml: "soak:\n  duration: 10s\n  interval: 1s\n  warmup: 10s\n", want: []string{"soak.warmup: 10s leaves nothing"}},
		{name: "limits order", yaml: "soak:\n  limits: {memoryStable: 40}\n", want: []string{"soak.limits: want memoryStable (40) < memoryFail (30)"}},
		{name: "health rate", yaml: "soak:\n  limits: {healthRate: 101}\n", want: []string{"soak.limits.healthRate"}},
		{name: "bad mix and pattern", yaml: "soak:\n  load:\n    mix: [{path: nope}]\n  errorPatterns: ['(']\n",
			want: []string{"soak.load.mix[0].path", "soak.errorPatterns[0]: not a regular expression"}},
		{name: "health path", yaml: "soak:\n  healthPath: healthz\n", want: []string{"soak.healthPath"}},
		{name: "fast interval", yaml: "soak:\n  interval: 10ms\n", want: []string{"soak.interval: 10ms: sample at most every 100ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte("apiVersion: plimsoll/v1\nkind: Policy\n" + tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, p.Soak)
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("problems %q lack %q", msg, w)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}
