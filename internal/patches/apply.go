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
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Outcome is what --apply did with an image's best candidate.
type Outcome struct {
	// Candidate is the patch considered ("repo:tag@sha256:…").
	Candidate string `json:"candidate"`
	// Applied is true when every reference to the image was rewritten to it: those written
	// in place (or on Branch at Commit) and those of every service built on it.
	Applied bool `json:"applied"`
	// Exception is true when the patch was declined on purpose (--except).
	Exception bool `json:"exception,omitempty"`
	// RunID and Decision are the check's of the image pair, when one ran.
	RunID    string           `json:"runID,omitempty"`
	Decision verdict.Decision `json:"decision,omitempty"`
	// Reason says why it was or was not applied.
	Reason string `json:"reason"`
	// Edits are the rewrites made of the references that run the image itself (manifests,
	// compose and CI files; Dockerfiles too when services are not rebuilt), on Branch at
	// Commit when the change was proposed for review.
	Edits  []inventory.Edit `json:"edits,omitempty"`
	Branch string           `json:"branch,omitempty"`
	Commit string           `json:"commit,omitempty"`
	// Services are the Dockerfiles built on the image, each rebuilt and checked on its own.
	Services []*ServiceOutcome `json:"services,omitempty"`
}

// CheckRequest is one check --apply runs: the image pair, or a service's two builds.
type CheckRequest struct {
	// Old and New are image references with their transport ("registry:…", "docker:…").
	Old, New string
	// Policy is the service's own policy, read from PolicyFile; nil for the run's policy.
	Policy     *config.Policy
	PolicyFile string
}

// Change is one rewrite proposed for review: a branch with one commit.
type Change struct {
	// Branch is the branch to create: BranchName's.
	Branch string
	// Edits are the rewrites the commit makes.
	Edits []inventory.Edit
	// Message is the commit message: old and new digests, the vulnerabilities fixed by
	// severity, the verdict and the run.
	Message string
}

// Applier applies the best eligible patch of each image of a report.
type Applier struct {
	Policy config.Patches
	// Approvers are the people who approved this run (the approval file and --approved-by).
	Approvers []string
	// Except are patches declined on purpose, by reference, "repo:tag" or tag, each with
	// its note; they are recorded as exceptions and not applied.
	Except map[string]string
	// Check runs the check `plimsoll check` runs and returns its report (recorded as the
	// evidence of the decision).
	Check func(ctx context.Context, req CheckRequest) (*report.Report, error)
	// Builder, when set, rebuilds every Dockerfile built FROM a patched image on the image in
	// use and on the patch, and each service is checked and applied on its own, with its own
	// policy (ServicePolicyFile beside the Dockerfile, read with LoadPolicy). Nil treats
	// Dockerfiles like the other references: rewritten when the image pair is GO.
	Builder    Builder
	LoadPolicy func(ctx context.Context, file string) (*config.Policy, error)
	// Propose, when set, makes each rewrite a reviewable change (a branch) and returns its
	// commit instead of writing the files in place. Proposed returns the commit of a branch
	// made by an earlier run, "" for none: such a change is left for review, and its service
	// is not rebuilt again.
	Propose  func(ctx context.Context, c Change) (string, error)
	Proposed func(ctx context.Context, branch string) (string, error)
	// Ledger records what was checked, applied or declined; nil records nothing.
	Ledger store.Store
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
}

func (a *Applier) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Applier) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// Apply considers the best eligible candidate of every image of rep and sets its Outcome.
// Outside every maintenance window, or without the approvals the policy needs, nothing is
// checked or rewritten and the outcome says why. The image pair is checked first; on GO, the
// references that run the image are rewritten; short of NO-GO and with a Builder, every
// service built on it is rebuilt, checked and rewritten on its own GO. A check that cannot decide, a service that
// does not build, a rewrite that fails, or a failing ledger is returned as an error (joined),
// after the other images and services were handled; a cancelled ctx stops at once.
func (a *Applier) Apply(ctx context.Context, rep *Report) error {
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
			errs = append(errs, a.record(ctx, im, best, store.PatchException, out, a.now(), note))
			continue
		}
		if ok, windows := a.Policy.InWindow(a.now()); !ok {
			out.Reason = "not applied: outside the maintenance windows (" + windows + ")"
			continue
		}
		if missing := a.Policy.Approvals.MissingApprovals(a.Approvers); missing != "" {
			out.Reason = "not applied: " + missing
			continue
		}
		a.log().Info("checking patch", "from", im.Current(), "to", best.Ref)
		res, err := a.Check(ctx, CheckRequest{Old: string(image.Registry) + ":" + im.Current(), New: string(image.Registry) + ":" + best.Ref})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("patches: apply: %w", ctx.Err())
			}
			out.Reason = "not applied: the check failed: " + err.Error()
			errs = append(errs, fmt.Errorf("patches: check %s → %s: %w", im.Current(), best.Ref, err))
			continue
		}
		out.RunID, out.Decision = res.RunID, res.Verdict.Decision
		if err := a.record(ctx, im, best, store.PatchChecked, out, a.now(), res.Verdict.Summary); err != nil {
			errs = append(errs, err)
		}
		why := unproven(res, a.Policy.MustPass())
		if why != "" && (res.Verdict.Decision == verdict.NoGo || a.Builder == nil) {
			out.Reason = "not applied: " + why
			continue
		}
		if err := a.applyImage(ctx, im, best, out, why); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// applyImage rewrites the references of im to c once the image pair is checked: those that run
// the image when the pair is proven (pairWhy is "", else why not), each service's after its own
// check whatever the pair's verdict short of NO-GO — a pair held back by what only a running
// service can show (the image's own command does not serve) is for the services to settle.
func (a *Applier) applyImage(ctx context.Context, im *Image, c *Candidate, out *Outcome, pairWhy string) error {
	svcs, rest := []service(nil), im.refs
	if a.Builder != nil {
		svcs, rest = services(im)
	}
	var errs []error
	restDone := len(rest) == 0
	b, commit, err := "", "", error(nil)
	if len(rest) > 0 && pairWhy == "" {
		b, commit, err = a.proposed(ctx, im, c, "")
	}
	switch {
	case len(rest) == 0:
	case pairWhy != "":
		out.Reason = "references running the image not applied: " + pairWhy
	case err != nil:
		out.Reason = "not applied: " + err.Error()
		errs = append(errs, err)
	case commit != "":
		out.Branch, out.Commit = b, commit
		out.Reason = fmt.Sprintf("already proposed on branch %s (commit %.12s), waiting for review", b, commit)
	default:
		edits, err := retargetRefs(rest, c)
		var branch, commit string
		if err == nil {
			branch, commit, err = a.deliver(ctx, change{im: im, c: c, edits: edits, verdict: fmt.Sprintf("%s (run %s)", out.Decision, out.RunID)})
		}
		if err != nil {
			out.Reason = "not applied: " + err.Error()
			errs = append(errs, fmt.Errorf("patches: apply %s: %w", c.Ref, err))
		} else {
			restDone, out.Edits, out.Branch, out.Commit = true, edits, branch, commit
			kind, how := store.PatchApplied, "applied"
			if branch != "" {
				kind, how = store.PatchProposed, "proposed on branch "+branch
			}
			out.Reason = fmt.Sprintf("%s: GO (run %s), %d reference(s) rewritten", how, out.RunID, len(edits))
			errs = append(errs, a.record(ctx, im, c, kind, out, a.now(), sites(rest)))
		}
	}
	applied := 0
	for _, s := range svcs {
		so, err := a.service(ctx, im, c, s)
		out.Services = append(out.Services, so)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("patches: apply: %w", ctx.Err())
			}
			errs = append(errs, err)
		}
		if so.Applied {
			applied++
		}
	}
	out.Applied = restDone && applied == len(svcs)
	if len(svcs) > 0 {
		reason := fmt.Sprintf("image pair %s (run %s); %d of %d service(s) rebuilt, checked and rewritten", out.Decision, out.RunID, applied, len(svcs))
		if out.Reason != "" {
			reason = out.Reason + "; " + reason
		}
		out.Reason = reason
	}
	return errors.Join(errs...)
}

// change is one rewrite to deliver: of the references to im that run it (service "") or of
// one service's Dockerfile.
type change struct {
	im      *Image
	c       *Candidate
	service string
	edits   []inventory.Edit
	verdict string
}

// deliver writes ch in place or, with Propose, as a branch, and returns the branch and commit
// ("" in place).
func (a *Applier) deliver(ctx context.Context, ch change) (string, string, error) {
	if a.Propose == nil {
		return "", "", inventory.Apply(ch.edits)
	}
	b := BranchName(ch.im.Repository, ch.c.Tag, ch.service)
	commit, err := a.Propose(ctx, Change{Branch: b, Edits: ch.edits, Message: ch.message()})
	if err != nil {
		return "", "", err
	}
	return b, commit, nil
}

// proposed returns the branch of a change to im's references (service "" for those running
// the image) and its commit when an earlier run made it; "" when not, or without branches.
func (a *Applier) proposed(ctx context.Context, im *Image, c *Candidate, service string) (string, string, error) {
	if a.Propose == nil || a.Proposed == nil {
		return "", "", nil
	}
	b := BranchName(im.Repository, c.Tag, service)
	commit, err := a.Proposed(ctx, b)
	if err != nil {
		return b, "", fmt.Errorf("patches: %w", err)
	}
	return b, commit, nil
}

// BranchName is the branch a patch of repository to tag is proposed on:
// plimsoll/patch/<base>-<tag> for the references that run the image, and
// plimsoll/patch/<service>/<base>-<tag> for a service built on it; <base> is the repository's
// last path element.
func BranchName(repository, tag, service string) string {
	base := refName(repository[strings.LastIndex(repository, "/")+1:]) + "-" + refName(tag)
	if service == "" {
		return "plimsoll/patch/" + base
	}
	return "plimsoll/patch/" + refName(service) + "/" + base
}

// message is the commit message of ch.
func (ch change) message() string {
	var b strings.Builder
	base := ch.im.Repository[strings.LastIndex(ch.im.Repository, "/")+1:]
	fmt.Fprintf(&b, "plimsoll: patch %s %s → %s", base, ch.im.Tag, ch.c.Tag)
	if ch.service != "" {
		fmt.Fprintf(&b, " in %s", ch.service)
	}
	fmt.Fprintf(&b, "\n\nBase image:\n  old %s\n  new %s\n", ch.im.Current(), ch.c.Ref)
	fmt.Fprintf(&b, "CVEs fixed: %s\n", severities(ch.c))
	fmt.Fprintf(&b, "Verdict: %s\n\nRewritten:\n", ch.verdict)
	for _, e := range ch.edits {
		fmt.Fprintf(&b, "  %s:%d  %s → %s\n", e.File, e.Line, e.Old, e.New)
	}
	return b.String()
}

// unproven says why a check's report does not allow the patch, "" when it does: the verdict
// must be GO, and every layer of must must have run and passed.
func unproven(res *report.Report, must []check.Layer) string {
	if res.Verdict.Decision != verdict.Go {
		return fmt.Sprintf("%s (run %s): %s", res.Verdict.Decision, res.RunID, res.Verdict.Summary)
	}
	var missing []string
	for _, l := range must {
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

// retargetRefs returns the edits that rewrite every reference of refs to c.
func retargetRefs(refs []inventory.Ref, c *Candidate) ([]inventory.Edit, error) {
	var edits []inventory.Edit
	for _, r := range refs {
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

func sites(refs []inventory.Ref) string {
	var ss []string
	for _, r := range refs {
		if s := fmt.Sprintf("%s:%d", r.File, r.Line); !slices.Contains(ss, s) {
			ss = append(ss, s)
		}
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
