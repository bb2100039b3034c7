package helm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
)

// UpgradeOptions say how Upgrade goes.
type UpgradeOptions struct {
	// Install installs the release when it does not exist yet (helm upgrade --install).
	Install bool
	// Atomic rolls the release back to its previous revision when the upgrade fails (its
	// pods are not Ready within Timeout); it implies Wait.
	Atomic bool
	// Wait waits for the pods of the new revision to be Ready.
	Wait bool
	// Timeout bounds each wait (cut to ctx's deadline).
	Timeout time.Duration
	// MaxHistory limits the revisions kept (0 = no limit), as helm's --history-max.
	MaxHistory int
	// Progress, when set, is told each step.
	Progress func(what string)
}

// UpgradeResult is what Upgrade did.
type UpgradeResult struct {
	Release string
	// From is the revision before the upgrade (zero for an install); To the revision the
	// upgrade wrote; Now the release's last revision afterwards (a "Rollback to N" revision
	// after an atomic rollback).
	From, To, Now Revision
	Installed     bool
	// RolledBack: the upgrade failed and Helm rolled it back (Atomic).
	RolledBack bool
	Took       time.Duration
}

// Upgrade upgrades (or with Install installs) the release with the chart and values. A
// release stuck in a pending-* status is refused with ErrPending (recover it with Rollback).
// A failed upgrade returns an error wrapping ErrUpgradeFailed; with Atomic, RolledBack says
// whether Helm rolled it back.
func (c *Client) Upgrade(ctx context.Context, name string, ch *chart.Chart, vals map[string]any, opts UpgradeOptions) (UpgradeResult, error) {
	t0 := time.Now()
	res := UpgradeResult{Release: name}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	rels, err := c.releases(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound) && opts.Install:
		say("installing helm release %s (chart %s-%s)", name, ch.Metadata.Name, ch.Metadata.Version)
		in := action.NewInstall(c.cfg)
		in.ReleaseName, in.Namespace = name, c.ns
		in.Wait, in.Atomic, in.Timeout = opts.Wait || opts.Atomic, opts.Atomic, timeout(ctx, opts.Timeout)
		rel, err := in.RunWithContext(ctx, ch, vals)
		res.Took, res.Installed = time.Since(t0), rel != nil
		if rel != nil {
			res.To, res.Now = revision(rel), revision(rel)
		}
		if err != nil {
			return res, fmt.Errorf("%w: install %s: %w", ErrUpgradeFailed, name, err)
		}
		return res, nil
	case err != nil:
		return res, err
	}
	cur := rels[len(rels)-1]
	res.From = revision(cur)
	if res.From.Pending() {
		return res, fmt.Errorf("%w: %s revision %d is %s (recover it with plimsoll rollback helm/%s)", ErrPending, name, cur.Version, cur.Info.Status, name)
	}
	say("upgrading helm release %s from revision %d (%s)", name, cur.Version, res.From.Image())
	up := action.NewUpgrade(c.cfg)
	up.Namespace, up.MaxHistory = c.ns, opts.MaxHistory
	up.Wait, up.Atomic, up.Timeout = opts.Wait || opts.Atomic, opts.Atomic, timeout(ctx, opts.Timeout)
	_, upErr := up.RunWithContext(ctx, name, ch, vals)
	res.Took = time.Since(t0)
	after, err := c.releases(context.WithoutCancel(ctx), name)
	if err != nil {
		return res, errors.Join(upErr, err)
	}
	for _, r := range after {
		if r.Version == cur.Version+1 {
			res.To = revision(r)
		}
	}
	res.Now = revision(after[len(after)-1])
	res.RolledBack = upErr != nil && res.Now.Number > res.To.Number && res.To.Number > 0 &&
		strings.HasPrefix(res.Now.Description, "Rollback to ")
	if upErr != nil {
		if res.RolledBack {
			say("upgrade to revision %d (%s) failed; rolled back: revision %d %q", res.To.Number, res.To.Image(), res.Now.Number, res.Now.Description)
		}
		return res, fmt.Errorf("%w: %s: %w", ErrUpgradeFailed, name, upErr)
	}
	say("helm release %s is at revision %d (%s)", name, res.Now.Number, res.Now.Image())
	return res, nil
}
