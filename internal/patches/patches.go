// Package patches is patch governance for base images: for each base image the inventory
// finds, it lists the newer patches in the image's own release line (newer tags by the image's
// version scheme, and newer digests of the same tag) with the vulnerabilities each would fix or
// bring, decides which are eligible under the patch policy, and applies them: each eligible
// patch is checked with the same check `plimsoll check` runs and, on GO, inside a maintenance
// window and with the approvals the policy needs, the references are rewritten to it. What
// happens is recorded in the patch ledger of the store.
package patches

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// CandidateKind says how a candidate differs from the image in use.
type CandidateKind string

// The kinds of candidate.
const (
	NewerTag    CandidateKind = "tag"    // a newer tag in the same release line
	NewerDigest CandidateKind = "digest" // the same tag, pushed again with a new digest
)

// Candidate is one patch of an image in use.
type Candidate struct {
	Kind CandidateKind `json:"kind"`
	// Ref is the patch pinned: "repo:tag@sha256:…".
	Ref    string `json:"ref"`
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
	// Created is the image's creation time from its config; zero when the image has none.
	Created time.Time `json:"created,omitzero"`
	// AvailableSince is Created or, when there is none, when the ledger first saw the patch.
	AvailableSince time.Time `json:"availableSince"`
	// Fixed and Introduced are the vulnerability IDs the patch removes and brings, with
	// their counts by severity; HighestFixed is the worst one it removes.
	Fixed            []string            `json:"fixed"`
	Introduced       []string            `json:"introduced"`
	FixedCounts      scan.SeverityCounts `json:"fixedCounts"`
	IntroducedCounts scan.SeverityCounts `json:"introducedCounts"`
	HighestFixed     scan.Severity       `json:"highestFixed"`
	// Eligible says whether the policy lets --apply take the patch, and Why.
	Eligible bool   `json:"eligible"`
	Why      string `json:"why"`

	fixed []scan.Finding // the findings behind Fixed, with their severities
}

// Image is one base image in use (one reference, wherever the inventory found it) and its
// patches, oldest first.
type Image struct {
	// Repository, Tag and Digest are the reference in use; Digest is what the tag resolves
	// to when the reference floats.
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	// Pinned is true when the reference names its digest.
	Pinned bool `json:"pinned"`
	// Sites are where the reference is written.
	Sites      []Site      `json:"sites"`
	Candidates []Candidate `json:"candidates"`
	// Error says why the image's patches could not be listed, "" when they were.
	Error string `json:"error,omitempty"`
	// Outcome is what --apply did, nil without --apply.
	Outcome *Outcome `json:"outcome,omitempty"`

	refs []inventory.Ref
}

// Site is one place a reference is written.
type Site struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Current is the reference in use, pinned: "repo:tag@sha256:…".
func (im *Image) Current() string { return im.Repository + ":" + im.Tag + "@" + im.Digest }

// Best returns the candidate --apply takes: the newest eligible one; nil for none.
func (im *Image) Best() *Candidate {
	for i := len(im.Candidates) - 1; i >= 0; i-- {
		if im.Candidates[i].Eligible {
			return &im.Candidates[i]
		}
	}
	return nil
}

// Report is what `plimsoll patches` found and did.
type Report struct {
	Time   time.Time `json:"time"`
	Images []*Image  `json:"images"`
	// Skipped are references that have no release line to look in (no tag, a tag without a
	// version, a locally built image), with why.
	Skipped []string `json:"skipped,omitempty"`
}

// Finder lists patches.
type Finder struct {
	Registry Registry
	Policy   config.Patches
	// Vulns returns the vulnerabilities of an image, as Layer 1 of the check finds them.
	Vulns func(ctx context.Context, img *image.Image) ([]scan.Finding, error)
	// Ledger records when each patch was first seen; nil records nothing (and a patch without
	// a creation time is then available since now).
	Ledger store.Store
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
}

func (f *Finder) now() time.Time {
	if f.Now == nil {
		return time.Now()
	}
	return f.Now()
}

func (f *Finder) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// Find lists the patches of every reference in refs (as inventory.Find returns them). A
// registry that cannot be read makes that image's Error, and the joined errors are returned
// beside the report; only a cancelled ctx or a failing ledger stops the search.
func (f *Finder) Find(ctx context.Context, refs []inventory.Ref) (*Report, error) {
	rep := &Report{Time: f.now()}
	byKey := map[string]*Image{}
	for _, r := range refs {
		switch {
		case r.Local:
			continue
		case r.Tag == "":
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%d: %s: no tag, so no release line", r.File, r.Line, r.Raw))
			continue
		}
		if _, ok := plan.ParseTagVersion(r.Tag); !ok {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s:%d: %s: tag %q names no version", r.File, r.Line, r.Raw, r.Tag))
			continue
		}
		key := r.Name + ":" + r.Tag + "@" + r.Digest
		im, ok := byKey[key]
		if !ok {
			im = &Image{Repository: r.Name, Tag: r.Tag, Digest: r.Digest, Pinned: r.Digest != "", Candidates: []Candidate{}}
			byKey[key] = im
			rep.Images = append(rep.Images, im)
		}
		im.Sites = append(im.Sites, Site{File: r.File, Line: r.Line})
		im.refs = append(im.refs, r)
	}
	slices.SortStableFunc(rep.Images, byVersion)
	var errs []error
	for _, im := range rep.Images {
		if err := f.image(ctx, im); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("patches: %w", ctx.Err())
			}
			if errors.Is(err, errLedger) {
				return nil, err
			}
			im.Error = err.Error()
			errs = append(errs, fmt.Errorf("patches: %s:%s: %w", im.Repository, im.Tag, err))
		}
	}
	return rep, errors.Join(errs...)
}

var errLedger = errors.New("ledger")

// found is a candidate image before its vulnerabilities are known.
type found struct {
	kind CandidateKind
	tag  string
	nums []int
	img  *image.Image
}

// image lists the candidates of one image in use.
func (f *Finder) image(ctx context.Context, im *Image) error {
	cur, err := f.Registry.Resolve(ctx, im.Repository+":"+im.Tag+digestSuffix(im.Digest))
	if err != nil {
		return err
	}
	defer cur.Close()
	if im.Digest == "" {
		im.Digest = cur.Digest.String()
	}
	tags, err := f.Registry.Tags(ctx, im.Repository)
	if err != nil {
		return err
	}
	curV, _ := plan.ParseTagVersion(im.Tag)
	var cands []found
	for _, t := range tags {
		if t == im.Tag {
			continue
		}
		v, ok := inLine(im.Repository, im.Tag, curV, t, f.Policy.LineKind())
		if !ok {
			continue
		}
		img, err := f.Registry.Resolve(ctx, im.Repository+":"+t)
		if err != nil {
			return err
		}
		defer img.Close()
		cands = append(cands, found{kind: NewerTag, tag: t, nums: v.Numbers, img: img})
	}
	if im.Pinned {
		// The same tag, pushed again since the reference was pinned.
		img, err := f.Registry.Resolve(ctx, im.Repository+":"+im.Tag)
		if err != nil {
			return err
		}
		defer img.Close()
		if img.Digest.String() != im.Digest {
			cands = append(cands, found{kind: NewerDigest, tag: im.Tag, nums: curV.Numbers, img: img})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b found) int {
		if c := slices.Compare(a.nums, b.nums); c != 0 {
			return c
		}
		return strings.Compare(a.tag, b.tag)
	})
	curVulns, err := f.Vulns(ctx, cur)
	if err != nil {
		return fmt.Errorf("vulnerabilities of %s: %w", im.Current(), err)
	}
	for _, c := range cands {
		vulns, err := f.Vulns(ctx, c.img)
		if err != nil {
			return fmt.Errorf("vulnerabilities of %s:%s: %w", im.Repository, c.tag, err)
		}
		cand := Candidate{Kind: c.kind, Tag: c.tag, Digest: c.img.Digest.String()}
		cand.Ref = im.Repository + ":" + c.tag + "@" + cand.Digest
		cand.Created = c.img.Config.Created.Time.UTC()
		d := scan.DiffFindings(curVulns, vulns)
		cand.Fixed, cand.Introduced, cand.fixed = ids(d.Fixed), ids(d.Introduced), d.Fixed
		cand.FixedCounts, cand.IntroducedCounts = d.FixedCounts, d.IntroducedCounts
		for _, fd := range d.Fixed {
			cand.HighestFixed = max(cand.HighestFixed, fd.Severity)
		}
		seen, err := f.firstSeen(ctx, im, cand)
		if err != nil {
			return err
		}
		cand.AvailableSince = cand.Created
		if cand.Created.IsZero() || cand.Created.Year() <= 1970 {
			cand.Created, cand.AvailableSince = time.Time{}, seen
		}
		cand.Eligible, cand.Why = eligible(f.Policy, cand, f.now())
		im.Candidates = append(im.Candidates, cand)
	}
	return nil
}

func digestSuffix(d string) string {
	if d == "" {
		return ""
	}
	return "@" + d
}

// inLine reports whether tag t is newer than cur in the same release line of repo: the same
// precision, prefix, flavor and distribution, and an upgrade no wider than line ("patch" or
// "minor") by the plan's reading of the tags.
func inLine(repo, curTag string, cur plan.TagVersion, t, line string) (plan.TagVersion, bool) {
	v, ok := plan.ParseTagVersion(t)
	if !ok || len(v.Numbers) == 0 || len(v.Numbers) != len(cur.Numbers) ||
		v.Prefix != cur.Prefix || v.Flavor != cur.Flavor || v.Distro != cur.Distro {
		return v, false
	}
	if slices.Compare(v.Numbers, cur.Numbers) <= 0 {
		return v, false
	}
	k := plan.Classify(plan.Input{OldRepo: repo, NewRepo: repo, OldTag: curTag, NewTag: t, Old: &plan.Facts{}}).Kind
	return v, k == plan.Patch || line == "minor" && k == plan.Minor
}

// firstSeen returns when the ledger first saw the candidate, recording it as seen now when it
// never did.
func (f *Finder) firstSeen(ctx context.Context, im *Image, c Candidate) (time.Time, error) {
	now := f.now()
	if f.Ledger == nil {
		return now, nil
	}
	evs, err := f.Ledger.PatchEvents(ctx, store.PatchFilter{Image: im.Repository, Kind: store.PatchSeen, ToDigest: c.Digest})
	if err != nil {
		return time.Time{}, fmt.Errorf("patches: %w: %w", errLedger, err)
	}
	if len(evs) > 0 {
		return evs[0].Time, nil
	}
	err = f.Ledger.RecordPatch(ctx, store.PatchEvent{Image: im.Repository, FromRef: im.Current(), ToRef: im.Repository + ":" + c.Tag,
		ToDigest: c.Digest, Kind: store.PatchSeen, Severity: c.HighestFixed, CVEs: c.Fixed, Time: now})
	if err != nil {
		return time.Time{}, fmt.Errorf("patches: %w: %w", errLedger, err)
	}
	return now, nil
}

// ids returns the distinct vulnerability IDs of fs, sorted.
func ids(fs []scan.Finding) []string {
	out := []string{}
	for _, f := range fs {
		if !slices.Contains(out, f.ID) {
			out = append(out, f.ID)
		}
	}
	slices.Sort(out)
	return out
}

// eligible decides whether the policy lets --apply take c at now, and why.
func eligible(p config.Patches, c Candidate, now time.Time) (bool, string) {
	if fixes := p.FixesSeverity(); fixes != "none" && c.HighestFixed > scan.Unknown {
		min, _ := scan.ParseSeverity(fixes)
		if c.HighestFixed >= min {
			return true, fmt.Sprintf("fixes a %s vulnerability (%s or worse makes a patch eligible)", c.HighestFixed, fixes)
		}
	}
	var why []string
	if fixes := p.FixesSeverity(); fixes != "none" {
		if c.HighestFixed > scan.Unknown {
			why = append(why, fmt.Sprintf("fixes nothing worse than %s (needs %s)", c.HighestFixed, fixes))
		} else {
			why = append(why, "fixes no known vulnerability")
		}
	}
	if n := p.Eligible.OlderThanDays; n > 0 {
		age := now.Sub(c.AvailableSince)
		days := int(age / (24 * time.Hour))
		if age >= time.Duration(n)*24*time.Hour {
			return true, fmt.Sprintf("available for %d days (%d or more makes any patch eligible)", days, n)
		}
		why = append(why, fmt.Sprintf("available for %d days, not yet %d", days, n))
	}
	if len(why) == 0 {
		return false, "the policy makes no patch eligible"
	}
	return false, strings.Join(why, "; ")
}

// byVersion orders images for output: by repository, then tag.
func byVersion(a, b *Image) int {
	return cmp.Or(strings.Compare(a.Repository, b.Repository), strings.Compare(a.Tag, b.Tag))
}

// Decision is the worst verdict among the outcomes, for the exit code: NO-GO when a checked
// candidate or one of the services rebuilt on it was NO-GO, CAUTION when a candidate is still pending (eligible, not applied), GO
// when nothing is left to do.
func (r *Report) Decision() verdict.Decision {
	d := verdict.Go
	for _, im := range r.Images {
		if o := im.Outcome; o != nil && slices.ContainsFunc(o.Services, func(s *ServiceOutcome) bool { return s.Decision == verdict.NoGo }) {
			return verdict.NoGo
		}
		switch {
		case im.Outcome != nil && im.Outcome.Decision == verdict.NoGo:
			return verdict.NoGo
		case im.Outcome != nil && (im.Outcome.Applied || im.Outcome.Exception):
		case im.Best() != nil:
			d = verdict.Caution
		}
	}
	return d
}
