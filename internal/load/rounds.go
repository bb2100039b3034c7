package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RoundsConfig is a paired A/B measurement: Rounds open-loop runs, each alternating its
// requests between the two targets. Zero fields take the defaults in brackets.
type RoundsConfig struct {
	// Rounds is the number of paired rounds [14], at most 1000. 14 rounds resolve a 10 %
	// regression of the p95 with ≥ 95 % power and ≤ 5 % false alarms at the ≈9 % per-round
	// spread measured on this machine (internal/stats' calibration); use an even number so both
	// orders of the targets are measured equally often.
	Rounds int `json:"rounds"`
	// Open is the load of one round, sent to each target (so each target gets Open.Rate);
	// Open.Duration defaults to 5s here, the round length of perf-anchors.md §2c. Round r uses
	// the seed Open.Seed+r.
	Open OpenConfig `json:"open"`
	// Warmup, when positive, runs the same load that long before the first round and discards it.
	Warmup time.Duration `json:"warmup,omitempty"`
	// Pause is idle time between rounds.
	Pause time.Duration `json:"pause,omitempty"`
	// Logger receives one debug line per round and a warning for a round whose generator fell
	// behind; nil discards.
	Logger *slog.Logger `json:"-"`
}

const (
	defaultRounds = 14
	maxRounds     = 1000
	defaultRound  = 5 * time.Second
)

// Round is one paired round. Ratios are B/A (NEW over OLD when B is the new image); a ratio is
// 0 when A measured nothing.
type Round struct {
	Index int `json:"index"`
	// First names the target that got the first request of every pair in this round.
	First string  `json:"first"`
	A     Summary `json:"a"`
	B     Summary `json:"b"`
	// P95Ratio is B.P95/A.P95, MeanRatio B.Mean/A.Mean.
	P95Ratio  float64 `json:"p95_ratio"`
	MeanRatio float64 `json:"mean_ratio"`
	// GeneratorBehind marks a round whose measurements must be left out (see
	// Summary.GeneratorBehind).
	GeneratorBehind bool `json:"generator_behind,omitempty"`
}

// RunRounds measures a and b in cfg.Rounds paired rounds over the same connections: in even
// rounds the requests go A, B, A, B…, in odd rounds B, A, B, A…. A round whose generator fell
// behind is kept, flagged, and not retried. On a cancelled ctx it returns the rounds finished
// so far with ctx's error.
func RunRounds(ctx context.Context, cfg RoundsConfig, a, b Target) ([]Round, error) {
	if cfg.Rounds == 0 {
		cfg.Rounds = defaultRounds
	}
	if cfg.Rounds < 0 || cfg.Rounds > maxRounds {
		return nil, fmt.Errorf("%w: rounds %d must be in 1..%d", ErrConfig, cfg.Rounds, maxRounds)
	}
	if cfg.Warmup < 0 || cfg.Pause < 0 {
		return nil, fmt.Errorf("%w: negative warmup %v or pause %v", ErrConfig, cfg.Warmup, cfg.Pause)
	}
	if cfg.Open.Duration == 0 {
		cfg.Open.Duration = defaultRound
	}
	open, err := cfg.Open.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMix(open.Mix)
	if err != nil {
		return nil, err
	}
	ca, err := newClient(a, m, open.Connections)
	if err != nil {
		return nil, err
	}
	defer ca.close()
	cb, err := newClient(b, m, open.Connections)
	if err != nil {
		return nil, err
	}
	defer cb.close()

	if cfg.Warmup > 0 {
		w := open
		w.Duration = cfg.Warmup
		if _, err := runOpen(ctx, w, m, []*client{ca, cb}); err != nil && !errors.Is(err, ErrGeneratorBehind) {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}

	rounds := make([]Round, 0, cfg.Rounds)
	for r := range cfg.Rounds {
		if r > 0 && cfg.Pause > 0 {
			t := time.NewTimer(cfg.Pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return rounds, fmt.Errorf("paired rounds stopped after %d: %w", len(rounds), ctx.Err())
			case <-t.C:
			}
		}
		rc := open
		rc.Seed = open.Seed + uint64(r)
		order := []*client{ca, cb}
		if r%2 == 1 {
			order = []*client{cb, ca}
		}
		sums, err := runOpen(ctx, rc, m, order)
		if err != nil && !errors.Is(err, ErrGeneratorBehind) {
			return rounds, fmt.Errorf("paired round %d: %w", r, err)
		}
		rd := Round{Index: r, First: order[0].target.label(), A: sums[0], B: sums[1]}
		if r%2 == 1 {
			rd.A, rd.B = sums[1], sums[0]
		}
		rd.GeneratorBehind = rd.A.GeneratorBehind
		rd.P95Ratio = ratio(rd.B.P95, rd.A.P95)
		rd.MeanRatio = ratio(rd.B.Mean, rd.A.Mean)
		rounds = append(rounds, rd)
		if rd.GeneratorBehind {
			log.Warn("paired round: generator fell behind; leave this round out", "round", r, "reason", rd.A.BehindReason)
		}
		log.Debug("paired round", "round", r, "first", rd.First, "a_p95", rd.A.P95, "b_p95", rd.B.P95,
			"p95_ratio", rd.P95Ratio, "a_errors", rd.A.Errors, "b_errors", rd.B.Errors)
	}
	return rounds, nil
}

func ratio(b, a time.Duration) float64 {
	if a <= 0 {
		return 0
	}
	return float64(b) / float64(a)
}
