package patches

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Outcome is what --apply did with an image's best candidate.
type Outcome struct {
	// Candidate is the patch considered ("repo:tag@sha256:…").
	Candidate string `json:"candidate"`
	// Applied is true when the references were rewritten to it.
	Applied bool `json:"applied"`
	// Exception is true when the patch was declined on purpose (--except).
	Exception bool `json:"exception,omitempty"`
	// RunID and Decision are the check's, when one ran.
	RunID    string           `json:"runID,omitempty"`
	Decision verdict.Decision `json:"decision,omitempty"`
	// Reason says why it was or was not applied.
	Reason string `json:"reason"`
	// Edits are the rewrites made.
	Edits []inventory.Edit `json:"edits,omitempty"`
}

// Applier applies the best eligible patch of each image of a report.
type Applier struct {
	Policy config.Patches
	// Approvers are the people who approved this run (the approval file and --approved-by).
	Approvers []string
	// Except are patches declined on purpose, by reference, "repo:tag" or tag, each with
	// its note; they are recorded as exceptions and not applied.
	Except map[string]string
	// Check runs the check `plimsoll check` runs, from old to new, and returns its report
	// (recorded as the evidence of the decision).
	Check func(ctx context.Context, old, new string) (*report.Report, error)
	// Ledger records what was checked, applied or declined; nil records nothing.
	Ledger store.Store
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
}

// Apply considers the best eligible candidate of every image of rep and sets its Outcome.
// Outside every maintenance window, or without the approvals the policy needs, nothing is
// checked or rewritten and the outcome says why. A check that cannot decide, a rewrite that
// fails, or a failing ledger is returned as an error (joined), after the other images were
// handled; a cancelled ctx stops at once.
func (a *Applier) Apply(ctx context.Context, rep *Report) error {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	log := a.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, im := range rep.Images {
		best := im.Best()
		if best == nil {
			continue
		}
		out := &Outcome{Candidate: best.Ref}
		im.Outcome = out
		if note, ok := a.exception(im, best); ok {
			out.Exception, out.Reason = true, "declined: "+note
			errs = append(errs, a.record(ctx, im, best, store.PatchException, out, now(), note))
			continue
		}
		if ok, windows := a.Policy.InWindow(now()); !ok {
			out.Reason = "not applied: outside the maintenance windows (" + windows + ")"
			continue
		}
		if missing := a.Policy.Approvals.MissingApprovals(a.Approvers); missing != "" {
			out.Reason = "not applied: " + missing
			continue
		}
		log.Info("checking patch", "from", im.Current(), "to", best.Ref)
		res, err := a.Check(ctx, im.Current(), best.Ref)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("patches: apply: %w", ctx.Err())
			}
			out.Reason = "not applied: the check failed: " + err.Error()
			errs = append(errs, fmt.Errorf("patches: check %s → %s: %w", im.Current(), best.Ref, err))
			continue
		}
		out.RunID, out.Decision = res.RunID, res.Verdict.Decision
		if err := a.record(ctx, im, best, store.PatchChecked, out, now(), res.Verdict.Summary); err != nil {
			errs = append(errs, err)
		}
		if why := a.unproven(res); why != "" {
			out.Reason = "not applied: " + why
			continue
		}
		edits, err := retarget(im, best)
		if err == nil {
			err = inventory.Apply(edits)
		}
		if err != nil {
			out.Reason = "not applied: " + err.Error()
			errs = append(errs, fmt.Errorf("patches: apply %s: %w", best.Ref, err))
			continue
		}
		out.Applied, out.Edits = true, edits
		out.Reason = fmt.Sprintf("applied: GO (run %s), %d reference(s) rewritten", res.RunID, len(edits))
		errs = append(errs, a.record(ctx, im, best, store.PatchApplied, out, now(), sites(im)))
	}
	return errors.Join(errs...)
}

// unproven says why a check's report does not allow the patch, "" when it does: the verdict
// must be GO, and every layer the policy names must have run and passed.
func (a *Applier) unproven(res *report.Report) string {
	if res.Verdict.Decision != verdict.Go {
		return fmt.Sprintf("%s (run %s): %s", res.Verdict.Decision, res.RunID, res.Verdict.Summary)
	}
	var missing []string
	for _, l := range a.Policy.MustPass() {
		i := slices.IndexFunc(res.Layers, func(rl report.Layer) bool { return rl.Layer == l })
		if i < 0 || res.Layers[i].State != report.StateRan || res.Layers[i].Status != check.StatusPass {
			missing = append(missing, l.String())
		}
	}
	if len(missing) > 0 {
		return "the policy needs these layers to pass, and they did not: " + strings.Join(missing, ", ")
	}
	return ""
}

// exception returns the note of the exception declining c, if there is one.
func (a *Applier) exception(im *Image, c *Candidate) (string, bool) {
	for _, k := range []string{c.Ref, im.Repository + ":" + c.Tag, c.Tag} {
		if note, ok := a.Except[k]; ok {
			return note, true
		}
	}
	return "", false
}

// retarget returns the edits that rewrite every site of im to c.
func retarget(im *Image, c *Candidate) ([]inventory.Edit, error) {
	var edits []inventory.Edit
	for _, r := range im.refs {
		e, err := inventory.Retarget(r, c.Tag, c.Digest)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(edits, e) { // one ARG default feeding several FROMs
			edits = append(edits, e)
		}
	}
	return edits, nil
}

func sites(im *Image) string {
	var ss []string
	for _, s := range im.Sites {
		ss = append(ss, fmt.Sprintf("%s:%d", s.File, s.Line))
	}
	return strings.Join(ss, ", ")
}

// record writes one ledger event about c.
func (a *Applier) record(ctx context.Context, im *Image, c *Candidate, kind store.PatchKind, out *Outcome, t time.Time, note string) error {
	if a.Ledger == nil {
		return nil
	}
	err := a.Ledger.RecordPatch(ctx, store.PatchEvent{Image: im.Repository, FromRef: im.Current(), ToRef: im.Repository + ":" + c.Tag,
		ToDigest: c.Digest, Kind: kind, RunID: out.RunID, Decision: out.Decision, Severity: c.HighestFixed,
		CVEs: c.Fixed, Time: t, Note: note})
	if err != nil {
		return fmt.Errorf("patches: record %s of %s: %w", kind, c.Ref, err)
	}
	return nil
}
