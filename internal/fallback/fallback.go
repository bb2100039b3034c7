// Package fallback finds a replacement for an image a cluster cannot pull, or whose signature
// does not verify: the same digest in a configured mirror of its registry, then the repository's
// last known-good digests (GO runs in the store) at the origin and in each mirror. Every
// candidate is resolved in its own registry and its signature verified there, each within its
// own time bound, before it is offered; the ones passed over are returned with the reason.
//
// `plimsoll rollout` and `rollback` offer or apply what Find returns, as the policy's
// delivery.fallback says (see Mode).
package fallback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Mode is what rollout and rollback do with a fallback image.
type Mode string

// The fallback modes of the policy's delivery.fallback.
const (
	Off   Mode = "off"   // no fallback: a failed pull or signature stops the command
	Offer Mode = "offer" // stop and name the replacement (the default)
	Apply Mode = "apply" // switch to the replacement
)

// ErrUnknownMode is returned (wrapped) by ParseMode for a name that is not a mode.
var ErrUnknownMode = errors.New("unknown fallback mode")

// ParseMode reads a mode: "off", "offer" or "apply"; "" is the default, Offer.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Offer, nil
	case Off, Offer, Apply:
		return m, nil
	}
	return "", fmt.Errorf("%w %q: use offer, apply or off", ErrUnknownMode, s)
}

// ErrNoFallback is returned (wrapped, with a one-line summary of the candidates rejected) when
// no candidate resolves and verifies.
var ErrNoFallback = errors.New("no fallback image")

// DefaultTimeout bounds each candidate when Finder.Timeout is 0.
const DefaultTimeout = 20 * time.Second

const (
	// maxKnownGood is how many known-good digests Find tries, newest first.
	maxKnownGood = 5
	// maxRuns bounds the runs read from the store for each spelling of the repository.
	maxRuns = 200
)

// RunLister lists stored runs; store.Store satisfies it.
type RunLister interface {
	ListRuns(ctx context.Context, f store.Filter) ([]store.RunSummary, error)
}

// Finder finds fallback images. Its zero value tries nothing and finds nothing.
type Finder struct {
	// Mirrors maps a registry host as written in image references ("docker.io",
	// "127.0.0.1:5000") to the registries holding copies, each with an optional path prefix
	// ("mirror.internal:5000/cache"), tried in order: the policy's delivery.mirrors.
	Mirrors map[string][]string
	// Runs gives the known-good digests (GO runs); nil: none.
	Runs RunLister
	// Verifier verifies each candidate's signature where the candidate is; nil when the policy
	// asks for no signature.
	Verifier *sign.Verifier
	// Image says how registries are read (credentials, plain http beyond loopback).
	Image image.Options
	// Timeout bounds each candidate, resolving it and verifying its signature, so that one
	// stalled registry does not eat the caller's deadline; 0 is DefaultTimeout.
	Timeout time.Duration
	// Logger receives debug lines about each candidate; nil discards them.
	Logger *slog.Logger
}

// Candidate is an image that may replace the one that failed.
type Candidate struct {
	// Ref is a registry reference pinned by digest ("127.0.0.1:5000/app@sha256:…").
	Ref string
	// Source says where the candidate comes from: "mirror 127.0.0.1:5000 (same digest)",
	// "last known-good: run R, GO on 2026-11-20".
	Source string
	// Digest is the manifest digest Ref is pinned to. A tag resolved in a mirror (no digest
	// known) is pinned to what image.Resolve reads: for a multi-platform index, the linux/GOARCH
	// image's digest, not the index's.
	Digest string
	// Signature says what verified ("1 of 1 signatures verify with key cosign.pub"), "" when
	// the Finder has no Verifier.
	Signature string
}

// Rejected is a candidate passed over, and why.
type Rejected struct{ Ref, Source, Why string }

// candidate is one reference to try.
type candidate struct {
	repo   string // the repository, as written in ref
	ref    string // repo@digest, or repo:tag when digest is ""
	digest string
	source string
}

// Find returns the first candidate for ref (a plain registry reference as Kubernetes takes it,
// tag or digest) that resolves in its registry and verifies under Verifier.
//
// digest, when not "", is ref's digest if known (resolved earlier); avoid, when not "", is a
// digest that must not be offered from the origin (the one whose signature failed there). The
// order: ref's digest (from ref, else digest) in each mirror of ref's registry, or ref's tag
// when no digest is known — a copy of the same digest is offered only when its signature
// verifies in the mirror, whatever avoid says; then each known-good digest of ref's repository
// other than ref's and avoid (GO runs, newest first, at most 5) at the origin and then in each
// mirror.
//
// The []Rejected says why each earlier candidate was passed over. When none is found the error
// wraps ErrNoFallback with a one-line summary of the rejections; a malformed ref, digest or
// avoid wraps image.ErrBadReference; a store that cannot be read, or ctx ending, is an error of
// its own.
func (f *Finder) Find(ctx context.Context, ref, digest, avoid string) (Candidate, []Rejected, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return Candidate{}, nil, fmt.Errorf("fallback for %q: %w: %v", ref, image.ErrBadReference, err)
	}
	if d, ok := r.(name.Digest); ok {
		digest = d.DigestStr()
	}
	for _, d := range []string{digest, avoid} {
		if _, err := v1.NewHash(d); d != "" && err != nil {
			return Candidate{}, nil, fmt.Errorf("fallback for %s: %w: digest %q: %v", ref, image.ErrBadReference, d, err)
		}
	}
	var rejected []Rejected
	try := func(cs []candidate) (Candidate, bool, error) {
		for _, c := range cs {
			got, why, err := f.try(ctx, c)
			if err != nil {
				return Candidate{}, false, fmt.Errorf("fallback for %s: %w", ref, err)
			}
			if why == "" {
				f.log().Debug("fallback found", "ref", got.Ref, "source", got.Source)
				return got, true, nil
			}
			f.log().Debug("fallback candidate rejected", "ref", c.ref, "source", c.source, "why", why)
			rejected = append(rejected, Rejected{Ref: c.ref, Source: c.source, Why: why})
		}
		return Candidate{}, false, nil
	}

	repo := store.Repository(ref)
	var same []candidate
	for _, m := range mirrorRefs(f.Mirrors, r, digest) {
		src := "mirror " + m.mirror + " (same digest)"
		if digest == "" {
			src = "mirror " + m.mirror + " (same tag, digest not pinned)"
		}
		same = append(same, candidate{repo: m.repo, ref: m.ref, digest: digest, source: src})
	}
	if c, ok, err := try(same); ok || err != nil {
		return c, rejected, err
	}

	good, err := f.knownGood(ctx, r, digest, avoid)
	if err != nil {
		return Candidate{}, rejected, fmt.Errorf("fallback for %s: %w", ref, err)
	}
	for _, g := range good {
		src := fmt.Sprintf("last known-good: run %s, GO on %s", g.ID, g.StartedAt.UTC().Format(time.DateOnly))
		cs := []candidate{{repo: repo, ref: repo + "@" + g.NewDigest, digest: g.NewDigest, source: src}}
		for _, m := range mirrorRefs(f.Mirrors, r, g.NewDigest) {
			cs = append(cs, candidate{repo: m.repo, ref: m.ref, digest: g.NewDigest, source: src + ", in mirror " + m.mirror})
		}
		if c, ok, err := try(cs); ok || err != nil {
			return c, rejected, err
		}
	}
	return Candidate{}, rejected, fmt.Errorf("%w for %s: %s", ErrNoFallback, ref, f.summary(r, rejected))
}

// try resolves c and verifies its signature within the Finder's time bound. It returns the
// candidate, or why it is rejected; an error only when ctx ended.
func (f *Finder) try(ctx context.Context, c candidate) (Candidate, string, error) {
	timeout := cmp.Or(f.Timeout, DefaultTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bounded := func(err error, what string) string {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return fmt.Sprintf("no answer within %s", timeout)
		}
		return what + ": " + err.Error()
	}
	img, err := image.Resolve(cctx, string(image.Registry)+":"+c.ref, f.Image)
	switch {
	case ctx.Err() != nil:
		return Candidate{}, "", ctx.Err()
	case errors.Is(err, image.ErrNotFound) && c.digest != "":
		return Candidate{}, "no such digest in this registry", nil
	case errors.Is(err, image.ErrNotFound):
		return Candidate{}, "no such tag in this registry", nil
	case err != nil:
		return Candidate{}, bounded(err, "cannot be read"), nil
	}
	defer img.Close()
	got := Candidate{Ref: c.ref, Source: c.source, Digest: c.digest}
	if c.digest == "" {
		got.Digest = img.Digest.String()
		got.Ref = c.repo + "@" + got.Digest
	}
	if f.Verifier == nil {
		return got, "", nil
	}
	res, err := f.Verifier.Verify(cctx, img)
	switch {
	case ctx.Err() != nil:
		return Candidate{}, "", ctx.Err()
	case errors.Is(err, sign.ErrNotVerified):
		return Candidate{}, "signature: " + err.Error(), nil
	case err != nil:
		return Candidate{}, bounded(err, "signature cannot be checked"), nil
	}
	got.Signature = fmt.Sprintf("%d of %d signatures verify with %s", len(res.Verified), res.Found, f.Verifier.Policy())
	return got, "", nil
}

// summary is the one line ErrNoFallback carries.
func (f *Finder) summary(r name.Reference, rejected []Rejected) string {
	if len(rejected) > 0 {
		parts := make([]string, len(rejected))
		for i, rj := range rejected {
			parts[i] = fmt.Sprintf("%s (%s): %s", rj.Ref, rj.Source, rj.Why)
		}
		return fmt.Sprintf("%d candidates rejected: %s", len(rejected), strings.Join(parts, "; "))
	}
	runs := "the store holds no other GO run of " + r.Context().Name()
	if f.Runs == nil {
		runs = "no run store to find a known-good digest in"
	}
	return fmt.Sprintf("no mirror is configured for %s and %s", r.Context().RegistryStr(), runs)
}

// knownGood returns the GO runs of r's repository with distinct new digests other than skip,
// newest first, at most maxKnownGood.
func (f *Finder) knownGood(ctx context.Context, r name.Reference, skip ...string) ([]store.RunSummary, error) {
	if f.Runs == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	var runs []store.RunSummary
	for _, spelling := range repoSpellings(r) {
		got, err := f.Runs.ListRuns(ctx, store.Filter{Image: spelling, Decision: verdict.Go, Limit: maxRuns})
		if err != nil {
			return nil, fmt.Errorf("reading known-good runs of %s: %w", spelling, err)
		}
		for _, run := range got {
			if !seen[run.ID] {
				seen[run.ID] = true
				runs = append(runs, run)
			}
		}
	}
	slices.SortFunc(runs, func(a, b store.RunSummary) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(b.ID, a.ID))
	})
	var out []store.RunSummary
	digests := map[string]bool{}
	for _, s := range skip {
		digests[s] = true
	}
	for _, run := range runs {
		if len(out) == maxKnownGood {
			break
		}
		if run.Decision != verdict.Go || digests[run.NewDigest] || !sameRepository(run.NewRef, r.Context()) {
			continue
		}
		if _, err := v1.NewHash(run.NewDigest); err != nil {
			continue
		}
		digests[run.NewDigest] = true
		out = append(out, run)
	}
	f.log().Debug("known-good digests", "repository", r.Context().Name(), "runs", len(runs), "digests", len(out))
	return out, nil
}

func (f *Finder) log() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}
