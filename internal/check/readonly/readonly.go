// Package readonly is a Layer 5 (hardening) check: the app must start and pass its health
// check with a read-only root filesystem, writable only where the policy's harden.tmpfs lists
// (a tmpfs owned by the app's user, as a Kubernetes emptyDir would be). It starts OLD, then
// NEW, each in a container of its own that it stops before returning. NEW failing where OLD
// passes is a regression (NO-GO); failing on both is pre-existing (CAUTION); with no OLD, a
// failure is NO-GO.
package readonly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Check is the read-only root filesystem check.
type Check struct {
	rt    runtime.Runtime
	ld    launch.Loader
	app   config.App
	h     config.Harden
	runID string
}

// New returns the check for a run; runID labels its containers.
func New(rt runtime.Runtime, ld launch.Loader, app config.App, h config.Harden, runID string) *Check {
	return &Check{rt: rt, ld: ld, app: app, h: h, runID: runID}
}

var _ check.Check = (*Check)(nil)

// Name implements check.Check.
func (*Check) Name() string { return "read-only-root" }

// try is how one image did.
type try struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Probe  string `json:"probe,omitempty"`
}

// Run implements check.Check.
func (c *Check) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if !c.h.ReadOnlyRoot {
		return check.Result{Status: check.StatusSkipped, Message: "not asked: harden.readOnlyRoot is false"}, nil
	}
	var old *try
	if env.Old != nil {
		o, err := c.try(ctx, env.Log, env.Old, "harden-ro-old")
		if err != nil {
			return check.Result{}, fmt.Errorf("OLD: %w", err)
		}
		old = &o
	}
	n, err := c.try(ctx, env.Log, env.New, "harden-ro-new")
	if err != nil {
		return check.Result{}, fmt.Errorf("NEW: %w", err)
	}
	timeout := c.app.Health.Timeout
	if timeout <= 0 {
		timeout = launch.DefaultHealthTimeout
	}
	tmpfs := "none"
	if len(c.h.Tmpfs) > 0 {
		tmpfs = strings.Join(c.h.Tmpfs, ", ")
	}
	r := check.Result{
		Measured:  n.Detail,
		Threshold: fmt.Sprintf("healthy within %s with a read-only root filesystem; tmpfs only at: %s", timeout, tmpfs),
		Source:    n.Probe,
		Data:      map[string]*try{"new": &n, "old": old},
	}
	if old != nil {
		r.Baseline = old.Detail
	}
	switch {
	case n.OK && old != nil && !old.OK:
		r.Status, r.Message = check.StatusPass, "NEW "+n.Detail+" with a read-only root; OLD did not: "+old.Detail
	case n.OK:
		r.Status, r.Message = check.StatusPass, n.Detail+" with a read-only root"
	case old == nil:
		r.Status, r.Message = check.StatusFail, "with a read-only root: "+n.Detail
	case old.OK:
		r.Status, r.Message = check.StatusFail, fmt.Sprintf("regression: with a read-only root: %s (OLD: %s)", n.Detail, old.Detail)
	default:
		r.Status, r.Message = check.StatusWarn, "pre-existing: fails on OLD too: with a read-only root: "+n.Detail
	}
	return r, nil
}

// try starts img with a read-only root and the policy's tmpfs paths, waits for health, and
// stops it. The error is set when the image could not be tried.
func (c *Check) try(ctx context.Context, log *slog.Logger, img *image.Image, role string) (try, error) {
	a, err := launch.Start(ctx, c.rt, c.ld, img, c.app, launch.Options{RunID: c.runID, Role: role,
		RootFS: &launch.RootFS{ReadOnly: true, Tmpfs: c.h.Tmpfs}})
	if errors.Is(err, runtime.ErrStartFailed) {
		return try{Detail: fmt.Sprintf("did not start: %v", err)}, nil
	}
	if err != nil {
		return try{}, err
	}
	defer func() {
		if err := a.Instance.Stop(context.WithoutCancel(ctx)); err != nil {
			log.Warn("read-only-root: stop container", "container", a.Instance.ID(), "err", err)
		}
	}()
	t := try{Probe: a.DescribeHealth(c.app.Health)}
	took, herr := a.WaitHealthy(ctx, c.app.Health)
	var ee *launch.ExitError
	switch {
	case herr == nil:
		t.OK, t.Detail = true, fmt.Sprintf("healthy in %s", took.Round(time.Millisecond))
		return t, nil
	case errors.As(herr, &ee):
		t.Detail = "the container " + launch.DescribeExit(ee.State) + " before it was healthy"
	case ctx.Err() != nil:
		return try{}, herr
	case errors.Is(herr, launch.ErrNotHealthy), errors.Is(herr, launch.ErrNoPort), errors.Is(herr, launch.ErrNoHealthcheck):
		t.Detail = herr.Error()
	default:
		return try{}, herr
	}
	logs, err := a.Logs(ctx)
	if err != nil {
		return try{}, fmt.Errorf("read the container's output: %w", err)
	}
	if q := quote(logs); q != "" {
		t.Detail += fmt.Sprintf(" (output: %q)", q)
	}
	return t, nil
}

// quote picks the output line that best says why: one naming the read-only file system,
// else the first fatal line, else the last line.
func quote(logs []byte) string {
	for _, l := range strings.Split(string(logs), "\n") {
		if strings.Contains(strings.ToLower(l), "read-only file system") {
			return launch.LastLines([]byte(l), 1)[0]
		}
	}
	if hits := launch.ScanLogs(logs, nil); len(hits) > 0 {
		return hits[0].Text
	}
	if l := launch.LastLines(logs, 1); len(l) == 1 {
		return l[0]
	}
	return ""
}
