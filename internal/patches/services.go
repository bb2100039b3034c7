package patches

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// ServicePolicyFile is the name of a service's own policy, beside its Dockerfile.
const ServicePolicyFile = "plimsoll.yaml"

// OCI labels every service build carries (image-spec annotations), and plimsoll's own.
const (
	LabelBaseName   = "org.opencontainers.image.base.name"
	LabelBaseDigest = "org.opencontainers.image.base.digest"
	// LabelPatchCVEs lists the vulnerability IDs the patch fixes, comma-separated.
	LabelPatchCVEs = "dev.plimsoll.patch.cves"
)

// Builder builds service images in a container engine.
type Builder interface {
	// Base makes the base image ref ("repo:tag@sha256:…", read from its registry) available to
	// builds, and returns how a FROM line names it.
	Base(ctx context.Context, ref string) (string, error)
	// Build builds b and returns the image built as a check reads it ("docker:REPO:TAG").
	Build(ctx context.Context, b Build) (string, error)
}

// Build is one build of a service.
type Build struct {
	// Context is the Dockerfile's directory; Dockerfile the file's name in it, and Text what
	// it is built as (its FROM lines pinned to one base).
	Context    string
	Dockerfile string
	Text       []byte
	// Tag names the image built; Labels are added to it.
	Tag    string
	Labels map[string]string
}

// ServiceOutcome is what --apply did with one service built on the patched image: a Dockerfile
// rebuilt on the image in use and on the patch, the two builds checked against each other.
type ServiceOutcome struct {
	// Service names it: its Dockerfile's directory (and the file's name when it is not
	// "Dockerfile").
	Service    string `json:"service"`
	Dockerfile string `json:"dockerfile"`
	// Policy is the service's own policy file, "" when the run's policy was used.
	Policy string `json:"policy,omitempty"`
	// OldImage and NewImage are the builds on the image in use and on the patch.
	OldImage string `json:"oldImage,omitempty"`
	NewImage string `json:"newImage,omitempty"`
	// RunID and Decision are the service check's; Decision is ERROR when the service could not
	// be built or checked.
	RunID    string           `json:"runID,omitempty"`
	Decision verdict.Decision `json:"decision,omitempty"`
	// Applied is true when the Dockerfile's references were rewritten (in place, or on Branch
	// at Commit).
	Applied bool   `json:"applied"`
	Branch  string `json:"branch,omitempty"`
	Commit  string `json:"commit,omitempty"`
	// Reason says why it was or was not applied.
	Reason string           `json:"reason"`
	Edits  []inventory.Edit `json:"edits,omitempty"`
}

// service is a Dockerfile whose FROM lines name an image in use.
type service struct {
	name, dockerfile string
	refs             []inventory.Ref
}

// services splits the references of im: the Dockerfiles built FROM it, one service each, and
// the other references (manifests, compose and CI files running the image itself).
func services(im *Image) ([]service, []inventory.Ref) {
	var out []service
	var rest []inventory.Ref
	for _, r := range im.refs {
		if r.Kind != inventory.KindDockerfile {
			rest = append(rest, r)
			continue
		}
		i := slices.IndexFunc(out, func(s service) bool { return s.dockerfile == r.File })
		if i < 0 {
			name := filepath.Base(filepath.Dir(r.File))
			if f := filepath.Base(r.File); f != "Dockerfile" {
				name += "/" + f
			}
			out = append(out, service{name: name, dockerfile: r.File})
			i = len(out) - 1
		}
		out[i].refs = append(out[i].refs, r)
	}
	return out, rest
}

// pinned returns the Dockerfile's text with every FROM of the image (its refs) naming base.
func (s service) pinned(data []byte, base string, c *Candidate) ([]byte, error) {
	edits, err := retargetRefs(s.refs, c)
	if err != nil {
		return nil, err
	}
	for i := range edits {
		edits[i].New = base
	}
	return inventory.Rewrite(data, edits)
}

// service rebuilds s on im and on its patch c, checks the two builds under the service's policy
// and, on GO, delivers its rewrite. A service that cannot be built or checked is ERROR and
// returned as an error; the caller goes on with the others.
func (a *Applier) service(ctx context.Context, im *Image, c *Candidate, s service) (*ServiceOutcome, error) {
	out := &ServiceOutcome{Service: s.name, Dockerfile: s.dockerfile}
	fail := func(what string, err error) (*ServiceOutcome, error) {
		out.Decision, out.Reason = verdict.Error, "not applied: "+what+": "+err.Error()
		err = fmt.Errorf("patches: service %s: %s: %w", s.name, what, err)
		if ctx.Err() != nil {
			return out, err
		}
		return out, errors.Join(err, a.recordService(ctx, im, c, store.PatchChecked, out, out.Reason))
	}
	if b, commit, err := a.proposed(ctx, im, c, s.name); err != nil {
		return fail("its branch", err)
	} else if commit != "" {
		out.Branch, out.Commit = b, commit
		out.Reason = fmt.Sprintf("already proposed on branch %s (commit %.12s), waiting for review: not rebuilt", b, commit)
		return out, nil
	}
	var pol *config.Policy
	if p := filepath.Join(filepath.Dir(s.dockerfile), ServicePolicyFile); fileExists(p) {
		out.Policy = p
		var err error
		if pol, err = a.LoadPolicy(ctx, p); err != nil {
			return fail("its policy", err)
		}
	}
	data, err := os.ReadFile(s.dockerfile)
	if err != nil {
		return fail("read its Dockerfile", err)
	}
	cur := &Candidate{Tag: im.Tag, Digest: im.Digest, Ref: im.Current()}
	for i, side := range []*Candidate{cur, c} {
		base, err := a.Builder.Base(ctx, side.Ref)
		if err != nil {
			return fail("base "+side.Ref, err)
		}
		text, err := s.pinned(data, base, side)
		if err != nil {
			return fail("pin its FROM lines", err)
		}
		ref, err := a.Builder.Build(ctx, Build{
			Context: filepath.Dir(s.dockerfile), Dockerfile: filepath.Base(s.dockerfile), Text: text,
			Tag: "plimsoll-patches/" + refName(s.name) + ":" + strings.TrimPrefix(short(side.Digest), "sha256:"),
			Labels: map[string]string{
				LabelBaseName: im.Repository + ":" + side.Tag, LabelBaseDigest: side.Digest,
				LabelPatchCVEs: strings.Join(c.Fixed, ","),
			},
		})
		if err != nil {
			return fail(fmt.Sprintf("build on %s", side.Ref), err)
		}
		if i == 0 {
			out.OldImage = ref
		} else {
			out.NewImage = ref
		}
	}
	a.log().Info("checking service", "service", s.name, "old", out.OldImage, "new", out.NewImage)
	res, err := a.Check(ctx, CheckRequest{Old: out.OldImage, New: out.NewImage, PolicyFile: out.Policy, Policy: pol})
	if err != nil {
		if ctx.Err() != nil {
			return out, fmt.Errorf("patches: apply: %w", ctx.Err())
		}
		return fail("the check", err)
	}
	out.RunID, out.Decision = res.RunID, res.Verdict.Decision
	if err := a.recordService(ctx, im, c, store.PatchChecked, out, res.Verdict.Summary); err != nil {
		return out, err
	}
	must := a.Policy.MustPass()
	if pol != nil {
		must = pol.Patches.MustPass()
	}
	if why := unproven(res, must); why != "" {
		out.Reason = "not applied: " + why
		return out, nil
	}
	edits, err := retargetRefs(s.refs, c)
	if err != nil {
		return fail("rewrite", err)
	}
	branch, commit, err := a.deliver(ctx, change{im: im, c: c, service: s.name, edits: edits,
		verdict: fmt.Sprintf("%s (service run %s; image pair %s, run %s)", res.Verdict.Decision, res.RunID, im.Outcome.Decision, im.Outcome.RunID)})
	if err != nil {
		return fail("deliver", err)
	}
	out.Applied, out.Edits, out.Branch, out.Commit = true, edits, branch, commit
	kind, note := store.PatchApplied, fmt.Sprintf("applied: GO (run %s), %d reference(s) rewritten", res.RunID, len(edits))
	if branch != "" {
		kind, note = store.PatchProposed, fmt.Sprintf("proposed: GO (run %s), branch %s", res.RunID, branch)
	}
	out.Reason = note
	return out, a.recordService(ctx, im, c, kind, out, note)
}

// recordService writes one ledger event about service out's patch c; its note names the service.
func (a *Applier) recordService(ctx context.Context, im *Image, c *Candidate, kind store.PatchKind, out *ServiceOutcome, note string) error {
	return a.record(ctx, im, c, kind, &Outcome{RunID: out.RunID, Decision: out.Decision}, a.now(), "service "+out.Service+": "+note)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

var notRefChar = regexp.MustCompile(`[^a-z0-9._/-]+`)

// refName turns s into a name an image repository or a Git branch accepts: lower case, runs of
// other characters as "-", no leading or trailing separator, no "..".
func refName(s string) string {
	s = notRefChar.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.ReplaceAll(s, "..", "-")
	s = strings.Trim(s, "-./")
	if s == "" {
		return "service"
	}
	return s
}

// severities lists the IDs c fixes by severity, worst first: "critical: CVE-1, CVE-2; high: …".
func severities(c *Candidate) string {
	by := map[scan.Severity][]string{}
	for _, f := range c.fixed {
		if !slices.Contains(by[f.Severity], f.ID) {
			by[f.Severity] = append(by[f.Severity], f.ID)
		}
	}
	var parts []string
	for s := scan.Critical; s >= scan.Unknown; s-- {
		if ids := by[s]; len(ids) > 0 {
			slices.Sort(ids)
			parts = append(parts, s.String()+": "+strings.Join(ids, ", "))
		}
	}
	if len(parts) == 0 {
		return "none known"
	}
	return strings.Join(parts, "; ")
}
