package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/timing"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Request is one `plimsoll check`.
type Request struct {
	// Old and New are image references; Old "" means a first deployment.
	Old, New string
	// Policy is the effective policy; nil means config.Default().
	Policy *config.Policy
	// Layers narrows (or widens) the plan to exactly these layers; nil runs the plan as it is.
	Layers []check.Layer
	// HotfixCVEs are the CVEs a hotfix upgrade must remove.
	HotfixCVEs []string
	// Budget overrides the plan's time budget when positive.
	Budget time.Duration
	// Images says how to read images (credentials, insecure registries).
	Images image.Options
	// CacheDir keeps layer-derived results (image facts) between runs; "" keeps none.
	CacheDir string
	// Checks builds the checks this build can run for the run's Setup. It is where the caller
	// picks implementations (scanners, runtimes); a layer it leaves out is reported as not run.
	Checks func(Setup) Layers
	// Emit receives progress events; nil discards them.
	Emit func(Event)
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// RunID names the run in reports; Now is the clock (time.Now when nil).
	RunID string
	Now   func() time.Time
	// Tool is written into the report.
	Tool report.Tool
	// Timings receives the time of each phase and is written into the report; nil: the gate
	// keeps its own. A caller that encodes the report passes one, to add the encoding's time.
	Timings *timing.Recorder
}

// Setup is what Checks builds a run's checks from, once the images are read and the plan made.
type Setup struct {
	// Plan is the upgrade's plan; Run are the layers that will run (the plan narrowed by
	// Request.Layers).
	Plan plan.Plan
	Run  []check.Layer
	// Policy is the effective policy.
	Policy *config.Policy
	// Old (nil for a first deployment) and New are the images as read: where from, by digest.
	Old, New *image.Image
}

// ErrNoImage is returned when the request names no new image.
var ErrNoImage = errors.New("no new image given")

// Check runs the whole gate for req and returns the report. An error means no verdict could be
// reached because of the tool or its input (an image that cannot be read); a regression is a
// NO-GO verdict in the report, never an error. A run that runs out of its time budget, or is
// cancelled once its images are read, still has a report: verdict ERROR, with the check that
// was running and why it stopped; cancellation also returns ctx's error beside it.
func Check(ctx context.Context, req Request) (*report.Report, error) {
	now := req.Now
	if now == nil {
		now = time.Now
	}
	emit := req.Emit
	if emit == nil {
		emit = func(Event) {}
	}
	log := req.Log
	if log == nil {
		log = discard
	}
	pol := req.Policy
	if pol == nil {
		pol = config.Default()
	}
	if req.Timings == nil {
		req.Timings = &timing.Recorder{}
	}
	rep := &report.Report{SchemaVersion: report.SchemaVersion, Tool: req.Tool, RunID: req.RunID, StartedAt: now()}
	oldImg, newImg, p, err := prepare(ctx, req, pol)
	if err != nil {
		return nil, err
	}
	defer closeAll(oldImg, newImg)
	if oldImg != nil {
		rep.Old = subject(oldImg)
	}
	rep.New = *subject(newImg)
	rep.Plan = ReportPlan(p)
	emit(Event{Kind: EventPlanned, Message: fmt.Sprintf("%s upgrade (risk %s): layers %v", p.Kind, p.Risk, p.Layers)})

	planned, excluded := narrow(p.Layers, req.Layers)
	if p.Kind == plan.SameDigest {
		planned, excluded = nil, nil // nothing to verify: the image is the one already verified
	}
	var avail Layers
	if req.Checks != nil && len(planned) > 0 {
		var run []check.Layer
		for _, l := range planned {
			if !slices.Contains(excluded, l) {
				run = append(run, l)
			}
		}
		avail = req.Checks(Setup{Plan: p, Run: run, Policy: pol, Old: oldImg, New: newImg})
	}
	budget := p.Budget
	if req.Budget > 0 {
		budget = req.Budget
	}
	runCtx := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, budget, fmt.Errorf("the time budget of %s ran out", budget))
		defer cancel()
	}
	env := &check.Env{Old: oldImg, New: newImg, Log: log, Timings: req.Timings}
	layers, runs, results, err := runLayers(runCtx, env, avail, planned, excluded, emit)
	results = applyPromotion(p, layers, results)
	rep.Layers = layers
	rep.Verdict = verdict.Decide(verdict.Policy{SameDigest: p.Kind == plan.SameDigest, Required: p.Required,
		Promotion: p.Promotion, Warnings: downgradeReasons(p.Downgrades)}, runs, results)
	if err != nil || runCtx.Err() != nil {
		// Stopped by a signal or the budget: whatever the layers found, the run could not decide.
		rep.Verdict.Decision = verdict.Error
		rep.Verdict.Summary = "stopped before it could decide: " + stopCause(runCtx)
		rep.FinishedAt = now()
		rep.Timings = report.TimingsOf(req.Timings)
		return rep, ctx.Err()
	}
	rep.FinishedAt = now()
	rep.Timings = report.TimingsOf(req.Timings)
	return rep, nil
}

// downgradeReasons are the plan's downgrades as reasons of the verdict: each holds it at CAUTION.
func downgradeReasons(ds []plan.Downgrade) []verdict.Reason {
	var rs []verdict.Reason
	for _, d := range ds {
		rs = append(rs, verdict.Reason{Check: "downgrade", Status: check.StatusWarn,
			Message:  "the new image downgrades " + d.String(),
			Measured: d.New, Baseline: d.Old, Threshold: "no downgrade of the distribution, C library or OpenSSL",
			Source: d.Source})
	}
	return rs
}

// Plan resolves the images of req and classifies the upgrade without running any layer.
func Plan(ctx context.Context, req Request) (old, new *report.Subject, p plan.Plan, err error) {
	pol := req.Policy
	if pol == nil {
		pol = config.Default()
	}
	oldImg, newImg, p, err := prepare(ctx, req, pol)
	if err != nil {
		return nil, nil, plan.Plan{}, err
	}
	defer closeAll(oldImg, newImg)
	if oldImg != nil {
		old = subject(oldImg)
	}
	return old, subject(newImg), p, nil
}

// ReportPlan is the plan as the report shows it.
func ReportPlan(p plan.Plan) report.Plan {
	rp := report.Plan{Kind: string(p.Kind), Risk: p.Risk, Layers: p.Layers, Budget: report.Duration(p.Budget),
		Promotion: p.Promotion, Reasons: p.Reasons}
	if rp.Layers == nil {
		rp.Layers = []check.Layer{}
	}
	return rp
}

// prepare resolves both images and plans the upgrade.
func prepare(ctx context.Context, req Request, pol *config.Policy) (oldImg, newImg *image.Image, p plan.Plan, err error) {
	if req.New == "" {
		return nil, nil, p, ErrNoImage
	}
	stop := req.Timings.Start(timing.Resolve)
	newImg, err = image.Resolve(ctx, req.New, req.Images)
	if err == nil && req.Old != "" {
		if oldImg, err = image.Resolve(ctx, req.Old, req.Images); err != nil {
			closeAll(newImg)
			err = fmt.Errorf("old image: %w", err)
		}
	} else if err != nil {
		err = fmt.Errorf("new image: %w", err)
	}
	stop()
	if err != nil {
		return nil, nil, p, err
	}
	if p, err = planFor(ctx, oldImg, newImg, req, pol); err != nil {
		closeAll(oldImg, newImg)
		return nil, nil, p, err
	}
	return oldImg, newImg, p, nil
}

// closeAll releases what reading the images holds (a daemon image's saved tarball).
func closeAll(imgs ...*image.Image) {
	for _, i := range imgs {
		if i != nil {
			_ = i.Close()
		}
	}
}

// planFor classifies the upgrade from the tags and the images' contents.
func planFor(ctx context.Context, oldImg, newImg *image.Image, req Request, pol *config.Policy) (plan.Plan, error) {
	in := plan.Input{NewDigest: newImg.Digest.String(), HotfixCVEs: req.HotfixCVEs}
	factsDir := ""
	if req.CacheDir != "" {
		factsDir = filepath.Join(req.CacheDir, "facts")
	}
	in.NewRepo, in.NewTag = splitName(newImg.Name)
	if oldImg != nil {
		in.OldDigest = oldImg.Digest.String()
		in.OldRepo, in.OldTag = splitName(oldImg.Name)
	}
	if oldImg == nil || in.OldDigest != in.NewDigest {
		defer req.Timings.Start(timing.Facts)()
		nf, err := newImg.CachedFacts(ctx, factsDir)
		if err != nil {
			return plan.Plan{}, fmt.Errorf("read new image: %w", err)
		}
		in.New = planFacts(nf)
		if oldImg != nil {
			of, err := oldImg.CachedFacts(ctx, factsDir)
			if err != nil {
				return plan.Plan{}, fmt.Errorf("read old image: %w", err)
			}
			in.Old = planFacts(of)
		}
	}
	return plan.ApplyOverrides(plan.Classify(in), pol.Plan.Overrides()), nil
}

func planFacts(f image.Facts) *plan.Facts {
	return &plan.Facts{OSID: f.OSID, OSVersionID: f.OSVersionID, Libc: f.Libc, LibcVersion: f.LibcVersion,
		OpenSSLVersion: f.OpenSSLVersion, User: f.User, Entrypoint: f.Entrypoint, Cmd: f.Cmd}
}

// splitName splits "host:5000/repo:tag" into its repository and tag ("" when there is none).
func splitName(name string) (repo, tag string) {
	for i := len(name) - 1; i >= 0; i-- {
		switch name[i] {
		case ':':
			return name[:i], name[i+1:]
		case '/':
			return name, ""
		}
	}
	return name, ""
}

// narrow applies --layers to the plan: every asked-for layer runs (a layer the plan did not
// call for runs too: the user asked), and planned layers not asked for are excluded.
func narrow(plannedLayers, asked []check.Layer) (planned, excluded []check.Layer) {
	if asked == nil {
		return plannedLayers, nil
	}
	for _, l := range check.AllLayers {
		inPlan, inAsk := slices.Contains(plannedLayers, l), slices.Contains(asked, l)
		if inPlan || inAsk {
			planned = append(planned, l)
		}
		if inPlan && !inAsk {
			excluded = append(excluded, l)
		}
	}
	return planned, excluded
}

// subject is what reports and the store show of an image: its reference without credentials.
func subject(i *image.Image) *report.Subject {
	return &report.Subject{Ref: image.RedactRef(i.Ref), Name: i.Name, Transport: string(i.Transport), Digest: i.Digest.String()}
}
