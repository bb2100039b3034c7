package helm

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// RollbackOptions say how Rollback goes.
type RollbackOptions struct {
	// ToRevision is the revision to roll back to; 0 is the last revision before the current
	// one that was deployed (its status deployed or superseded): helm's previous revision,
	// unless that one failed too, which helm would roll back to.
	ToRevision int
	// Timeout bounds the wait for the restored pods to be Ready (and is cut to ctx's deadline).
	Timeout time.Duration
	// ForceUnlock marks a release stuck in a pending-* status failed before rolling back, so
	// its history says the stuck operation failed (without it, the stuck revision keeps its
	// pending-* status in the history, below the new "Rollback to N" revision).
	ForceUnlock bool
	// MaxHistory limits the revisions kept (0 = no limit), as helm's --history-max.
	MaxHistory int
	// Progress, when set, is told each step (for an incident timeline and for a terminal).
	Progress func(what string)
}

// RollbackResult is what Rollback did.
type RollbackResult struct {
	Release string
	// From is the revision the release was at, To the one rolled back to; NewRevision is the
	// revision the rollback created ("Rollback to N"), 0 when none was created.
	From, To    Revision
	NewRevision int
	// Stuck is set when From was in a pending-* status; Unlocked when it was marked failed.
	Stuck, Unlocked bool
	// Applied: a new revision was written (the cluster was changed).
	Applied bool
	// Took is how long the rollback took, the wait for Ready pods included.
	Took time.Duration
	// Message says in one line what happened.
	Message string
}

// Rollback rolls the release back, as `helm rollback --wait` does, to the previous revision
// or opts.ToRevision, and waits for the restored pods to be Ready. A release stuck in a
// pending-* status is rolled back to its last deployed revision (after being marked failed
// with ForceUnlock). The error wraps ErrNotFound, ErrNoTarget or ErrRollbackFailed (applied,
// but not Ready in time: Applied is true).
func (c *Client) Rollback(ctx context.Context, name string, opts RollbackOptions) (RollbackResult, error) {
	t0 := time.Now()
	res := RollbackResult{Release: name}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	rels, err := c.releases(ctx, name)
	if err != nil {
		return res, err
	}
	cur := rels[len(rels)-1]
	res.From = revision(cur)
	res.Stuck = cur.Info != nil && cur.Info.Status.IsPending()
	target, err := rollbackTarget(rels, opts.ToRevision)
	if err != nil {
		return res, fmt.Errorf("roll back helm release %s: %w", name, err)
	}
	res.To = revision(target)
	if res.Stuck {
		say("helm release %s is stuck in %s at revision %d; its last deployed revision is %d", name, cur.Info.Status, cur.Version, target.Version)
		if opts.ForceUnlock {
			was := cur.Info.Status
			cur.Info.Status = release.StatusFailed
			cur.Info.Description = fmt.Sprintf("marked failed by plimsoll --force-unlock (was %s)", was)
			if err := c.cfg.Releases.Update(cur); err != nil {
				return res, fmt.Errorf("unlock helm release %s revision %d: %w", name, cur.Version, err)
			}
			res.Unlocked = true
			say("revision %d marked failed (was %s)", cur.Version, was)
		}
	}
	say("rolling helm release %s back from revision %d (%s) to revision %d (%s)", name, cur.Version, res.From.Image(), target.Version, res.To.Image())
	rb := action.NewRollback(c.cfg)
	rb.Version, rb.Wait, rb.MaxHistory = target.Version, true, opts.MaxHistory
	rb.Timeout = timeout(ctx, opts.Timeout)
	runErr := rb.Run(name)
	res.Took = time.Since(t0)
	if last, err := c.cfg.Releases.Last(name); err == nil && last.Version > cur.Version {
		res.Applied, res.NewRevision = true, last.Version
	}
	switch {
	case runErr != nil && res.Applied:
		res.Message = fmt.Sprintf("revision %d (rollback to %d) failed: %v", res.NewRevision, target.Version, runErr)
		say("%s", res.Message)
		return res, fmt.Errorf("%w: %s: %w", ErrRollbackFailed, name, runErr)
	case runErr != nil:
		return res, fmt.Errorf("roll back helm release %s: %w", name, runErr)
	}
	res.Message = fmt.Sprintf("rolled back from revision %d to revision %d, now revision %d; Ready in %s", cur.Version, target.Version, res.NewRevision, res.Took.Round(10*time.Millisecond))
	if res.Stuck {
		// Helm's rollback supersedes only deployed revisions: the stuck one keeps its status
		// in the history, but it is no longer the last, so the release can be upgraded again.
		how := "left in the history as it was"
		if res.Unlocked {
			how = "marked failed"
		}
		res.Message = fmt.Sprintf("revision %d was stuck in %s (%s); ", cur.Version, res.From.Status, how) + res.Message
	}
	say("%s", res.Message)
	return res, nil
}

// rollbackTarget picks the revision to roll back to from the history (oldest first): to when
// given, else the last revision before the current one that was deployed.
func rollbackTarget(rels []*release.Release, to int) (*release.Release, error) {
	cur := rels[len(rels)-1]
	if to > 0 {
		for _, r := range rels {
			if r.Version == to {
				return r, nil
			}
		}
		return nil, fmt.Errorf("%w: revision %d not found", ErrNoTarget, to)
	}
	if len(rels) < 2 {
		return nil, fmt.Errorf("%w: revision %d has no previous revision", ErrNoTarget, cur.Version)
	}
	for i := len(rels) - 2; i >= 0; i-- {
		if rels[i].Info == nil {
			continue
		}
		if s := rels[i].Info.Status; s == release.StatusDeployed || s == release.StatusSuperseded {
			return rels[i], nil
		}
	}
	return nil, fmt.Errorf("%w: no revision before %d was deployed (pass the revision to roll back to)", ErrNoTarget, cur.Version)
}
