package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/functional"
	"github.com/plimsoll/plimsoll/internal/check/harden"
	"github.com/plimsoll/plimsoll/internal/check/perf"
	"github.com/plimsoll/plimsoll/internal/check/readonly"
	"github.com/plimsoll/plimsoll/internal/check/smoke"
	soakcheck "github.com/plimsoll/plimsoll/internal/check/soak"
	"github.com/plimsoll/plimsoll/internal/check/structure"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/cst"
	"github.com/plimsoll/plimsoll/internal/gate"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	podrt "github.com/plimsoll/plimsoll/internal/runtime/kube"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/open"
)

// runtimeLayers are the layers that start containers.
var runtimeLayers = []check.Layer{check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden, check.L6Soak}

// composer picks the implementations of every layer this build can run: the one place where
// scanners, the container engine and verifiers are chosen.
type composer struct {
	flags     *checkFlags
	policyDir string
	runID     string
	log       *slog.Logger
	layerOne  func(plan.Plan) []check.Check
	verifier  *sign.Verifier
	signOpts  []sign.Option
	// engine runs the containers (the Docker engine, or pods), started at most once per run;
	// engineErr says why there is none.
	engine    engine
	engineErr error
}

// engine runs the layers' containers: the Docker engine's, or pods of a Kubernetes cluster.
type engine interface {
	runtime.Runtime
	// StopRun removes what is left of a run's containers.
	StopRun(ctx context.Context, runID string) ([]string, error)
	Close() error
}

// newComposer checks everything that can be checked before the run (scanners, the signature
// policy, structure-test files), so a mistake there is a usage error, not a verdict.
func newComposer(f *checkFlags, pol *config.Policy, runID string, log *slog.Logger) (*composer, error) {
	c := &composer{flags: f, policyDir: f.policyDir(), runID: runID, log: log}
	var err error
	if c.layerOne, err = f.layerOne(pol); err != nil {
		return nil, err
	}
	c.signOpts = []sign.Option{sign.WithLogger(log)}
	if f.insecure {
		c.signOpts = append(c.signOpts, sign.WithInsecure())
	}
	if c.verifier, err = sign.NewVerifier(pol.Harden.Signature, c.policyDir, c.signOpts...); err != nil {
		return nil, fmt.Errorf("%w: policy harden.signature: %v", ErrUsage, err)
	}
	for _, file := range pol.Smoke.StructureTests {
		if _, err := cst.Load(c.structurePath(file)); err != nil {
			return nil, fmt.Errorf("%w: policy smoke.structureTests: %v", ErrUsage, err)
		}
	}
	return c, nil
}

func (c *composer) structurePath(file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(c.policyDir, file)
}

// layers returns the checks of the layers that run. It is called once the plan is known, so
// a run that starts no container never needs a container engine.
func (c *composer) layers(ctx context.Context, s gate.Setup) gate.Layers {
	p, run, pol := s.Plan, s.Run, s.Policy
	ls := gate.Layers{check.L1Diff: {Checks: c.layerOne(p)}}
	l5 := harden.New(pol.Harden, c.verifier, harden.WithApp(pol.App), harden.WithAttachments(c.signOpts...))
	if !slices.ContainsFunc(run, func(l check.Layer) bool { return slices.Contains(runtimeLayers, l) }) {
		ls[check.L5Harden] = gate.Layer{Checks: l5}
		return ls
	}
	rt, ld, err := c.startEngine(ctx, s)
	if err != nil {
		ls[check.L2Smoke] = gate.Layer{Checks: []check.Check{unavailable{"engine", err}}}
		ls[check.L3Functional] = gate.Layer{Checks: []check.Check{unavailable{"engine", err}}}
		ls[check.L4Perf] = gate.Layer{Checks: []check.Check{unavailable{"engine", err}}}
		ls[check.L5Harden] = gate.Layer{Checks: append(l5, unavailable{"read-only-root", err})}
		ls[check.L6Soak] = gate.Layer{Checks: []check.Check{unavailable{"engine", err}}}
		return ls
	}
	sess, l2 := smoke.NewSession(rt, ld, pol.App, pol.Smoke, c.runID)
	files := make([]string, len(pol.Smoke.StructureTests))
	for i, f := range pol.Smoke.StructureTests {
		files[i] = c.structurePath(f)
	}
	if st, err := structure.New(files, "", rt, ld, c.runID); err != nil {
		l2 = append(l2, unavailable{"structure", err})
	} else {
		l2 = append(l2, st...)
	}
	ls[check.L2Smoke] = gate.Layer{Checks: l2, Close: sess.Close}
	ls[check.L3Functional] = gate.Layer{Checks: functional.New(rt, ld, pol.App, pol.Functional, c.runID)}
	ls[check.L4Perf] = gate.Layer{Checks: perf.New(rt, ld, pol.App, pol.Perf, c.runID, perf.MetricsWithin(100*p.MetricsWithin))}
	ls[check.L5Harden] = gate.Layer{Checks: append(l5, readonly.New(rt, ld, pol.App, pol.Harden, c.runID))}
	if slices.Contains(run, check.L6Soak) {
		ls[check.L6Soak] = c.soakLayer(ctx, rt, ld, p, pol)
	}
	return ls
}

// soakLayer is Layer 6, its samples going to the run's store as they are taken.
func (c *composer) soakLayer(ctx context.Context, rt runtime.Runtime, ld launch.Loader, p plan.Plan, pol *config.Policy) gate.Layer {
	o := soakcheck.Options{RunID: c.runID, MinSoak: p.MinSoak, MetricsWithin: 100 * p.MetricsWithin, ReportDir: c.flags.reportDir, Log: c.log,
		Progress: func(p soak.Progress) {
			if p.Note != "" {
				c.log.Info("soak", "note", p.Note)
			}
		}}
	var closeStore func(context.Context) error
	if dsn := storeDSN(c.flags.store); dsn != "none" {
		st, err := open.Open(ctx, dsn)
		if err != nil {
			return gate.Layer{Checks: []check.Check{unavailable{"store", err}}}
		}
		o.Store = st
		closeStore = func(context.Context) error { return st.Close() }
	}
	return gate.Layer{Checks: soakcheck.New(rt, ld, pol.App, pol.Soak, o), Close: closeStore}
}

// startEngine connects to the run's engine once per run (the policy's runtime.engine, or
// --runtime) and removes the containers that runs killed before they could clean up left
// behind. It returns the runtime and the loader that gives it s's images: the Docker engine
// loads them; a cluster's nodes pull them from their registry by digest.
func (c *composer) startEngine(ctx context.Context, s gate.Setup) (runtime.Runtime, launch.Loader, error) {
	if c.engine == nil && c.engineErr == nil {
		c.engine, c.engineErr = c.newEngine(ctx, s.Policy)
	}
	if c.engineErr != nil {
		return nil, nil, c.engineErr
	}
	switch e := c.engine.(type) {
	case *docker.Runtime:
		return e, e, nil
	case *podrt.Runtime:
		var srcs []podrt.Source
		for _, img := range []*image.Image{s.Old, s.New} {
			if img != nil {
				srcs = append(srcs, podrt.Source{Ref: img.Ref, Repository: img.Repository, From: string(img.Transport), Digest: img.Digest})
			}
		}
		return e, podrt.NewLoader(srcs...), nil
	}
	return nil, nil, fmt.Errorf("no loader for engine %T", c.engine)
}

// newEngine connects to the engine the flags or the policy name and collects what dead runs
// left there.
func (c *composer) newEngine(ctx context.Context, pol *config.Policy) (engine, error) {
	name := c.flags.runtime
	if name == "" {
		name = pol.Runtime.EngineName()
	}
	var e engine
	var removed []string
	var err error
	switch name {
	case "kubernetes":
		o := c.flags.kube
		if o.Namespace == "" {
			o.Namespace = pol.Runtime.Namespace
		}
		cfg, ns, cerr := o.Config()
		if cerr != nil {
			return nil, fmt.Errorf("%w: %v", runtime.ErrNoEngine, cerr)
		}
		rt, nerr := podrt.New(ctx, cfg, podrt.WithNamespace(ns), podrt.WithLogger(c.log),
			podrt.WithNodeSelector(pol.Runtime.NodeSelector))
		if nerr != nil {
			return nil, nerr
		}
		e = rt
		removed, err = rt.GC(ctx)
	default:
		rt, nerr := docker.New(ctx, docker.WithLogger(c.log), docker.WithCallTimeout(pol.App.EngineTimeout))
		if nerr != nil {
			return nil, nerr
		}
		e = rt
		removed, err = rt.GC(ctx, docker.GCOptions{})
	}
	if err != nil {
		c.log.Warn("removing containers of dead runs failed", "err", err)
	} else if len(removed) > 0 {
		c.log.Info("removed containers of dead runs", "containers", removed)
	}
	return e, nil
}

// close removes whatever containers of this run are still there (a start interrupted by a
// signal) and lets go of the engine.
func (c *composer) close(ctx context.Context) {
	if c.engine == nil {
		return
	}
	if _, err := c.engine.StopRun(context.WithoutCancel(ctx), c.runID); err != nil {
		c.log.Warn("removing this run's containers failed", "err", err)
	}
	_ = c.engine.Close()
}

// unavailable is a check that could not be set up (no container engine, say). It reports the
// reason as an error, so its layer can never count as passed.
type unavailable struct {
	name string
	err  error
}

func (u unavailable) Name() string { return u.name }

func (u unavailable) Run(context.Context, *check.Env) (check.Result, error) {
	return check.Result{}, u.err
}
