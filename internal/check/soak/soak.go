// Package soak is Layer 6 of the gate: OLD and NEW side by side under the same continuous load
// and limits for the soak's duration, sampled every interval, NEW's trends judged against
// OLD's (internal/soak does the work). Its checks are one per metric — memory, fds,
// connections, cpu, health, errors — sharing one soak, run by whichever check runs first; and,
// for a plan whose promotion rule bounds every metric to N % of the old image (major, distro),
// metrics-within, comparing where NEW's metrics settle with where OLD's do.
//
// The soak's duration is the policy's soak.duration, else the plan's minimum soak (24h for a
// major upgrade, 48h for a distro upgrade), else the seed's 24h. A soak shorter than the plan's
// minimum is not enough for the promotion rule: its passes are CAUTION, saying so.
// Samples go to the store as they are taken, under the run's ID; plots go to the report
// directory when one is given; the series also ride in each result's Data.
package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
	soakrun "github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store"
)

// Options are what Layer 6 needs beyond the runtime and the policy.
type Options struct {
	RunID string
	// MinSoak is the plan's minimum soak; 0 for none.
	MinSoak time.Duration
	// Store receives the samples; nil keeps them in memory.
	Store store.Store
	// ReportDir receives the plots; "" for none.
	ReportDir string
	// Progress receives the soak's progress; nil for none.
	Progress func(soakrun.Progress)
	Log      *slog.Logger
	// MetricsWithin is the plan's "all metrics within N % of the old image", in percent; > 0
	// adds the metrics-within check.
	MetricsWithin float64
}

// checkNames are the checks of the layer, in report order (soak.Results's order).
var checkNames = []string{"memory", "fds", "connections", "cpu", "health", "errors"}

// New returns Layer 6's checks.
func New(rt runtime.Runtime, ld launch.Loader, app config.App, sp config.Soak, o Options) []check.Check {
	if sp.Duration == 0 && o.MinSoak > 0 {
		sp.Duration = o.MinSoak
	}
	s := &session{rt: rt, ld: ld, app: app, sp: sp, o: o, done: map[[2]*image.Image]*outcome{}}
	out := make([]check.Check, len(checkNames))
	for i := range checkNames {
		out[i] = metricCheck{s: s, i: i}
	}
	if o.MetricsWithin > 0 {
		out = append(out, metricCheck{s: s, i: len(checkNames)})
	}
	return out
}

type session struct {
	rt  runtime.Runtime
	ld  launch.Loader
	app config.App
	sp  config.Soak
	o   Options

	mu   sync.Mutex
	done map[[2]*image.Image]*outcome
}

type outcome struct {
	results []check.Result
	err     error
}

func (s *session) outcome(ctx context.Context, env *check.Env) (*outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]*image.Image{env.Old, env.New}
	if o, ok := s.done[key]; ok {
		return o, nil
	}
	log := s.o.Log
	if log == nil {
		log = env.Log
	}
	if d := s.sp.WithDefaults().Duration; hasLess(ctx, d) {
		dl, _ := ctx.Deadline()
		o := &outcome{err: fmt.Errorf("soak: a soak of %s does not fit in the run's budget (%s left): set soak.duration or --budget", d, time.Until(dl).Round(time.Second))}
		s.done[key] = o
		return o, nil
	}
	out, err := soakrun.Run(ctx, soakrun.Options{
		RunID: s.o.RunID, Old: env.Old, New: env.New, App: s.app, Soak: s.sp,
		Runtime: s.rt, Loader: s.ld, Store: s.o.Store, Progress: s.o.Progress, Log: log,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		o := &outcome{err: err}
		s.done[key] = o
		return o, nil
	}
	res := soakrun.Results(out)
	if len(res) != len(checkNames) {
		return nil, fmt.Errorf("soak: %d results for %d checks", len(res), len(checkNames))
	}
	if s.o.MetricsWithin > 0 {
		res = append(res, soakrun.Within(out, s.sp.WithDefaults().Limits, s.o.MetricsWithin))
	}
	if s.o.ReportDir != "" {
		if files, err := soakrun.WritePlots(s.o.ReportDir, out); err != nil {
			log.Warn("soak plots not written", "err", err)
		} else {
			for i := range res {
				if d, ok := res[i].Data.(*soakrun.ResultData); ok {
					d.Plots = files
				}
			}
		}
	}
	if short := s.sp.WithDefaults().Duration; s.o.MinSoak > 0 && short < s.o.MinSoak {
		for i := range res {
			if res[i].Status == check.StatusPass {
				res[i].Status = check.StatusWarn
			}
			res[i].Message += fmt.Sprintf("; the soak ran %s, shorter than the plan's minimum of %s", short, s.o.MinSoak)
		}
	}
	o := &outcome{results: res}
	s.done[key] = o
	return o, nil
}

type metricCheck struct {
	s *session
	i int
}

func (c metricCheck) Name() string {
	if c.i == len(checkNames) {
		return soakrun.WithinCheckName
	}
	return checkNames[c.i]
}

func (c metricCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if env.New == nil {
		return check.Result{}, errors.New("soak: no NEW image")
	}
	o, err := c.s.outcome(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	if o.err != nil {
		return check.Result{}, o.err
	}
	return o.results[c.i], nil
}

// hasLess reports whether ctx ends sooner than d from now (with a minute for starting up).
func hasLess(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < d+time.Minute
}
