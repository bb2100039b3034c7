package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/fallback"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// fallbackFlags are the registry-fallback flags rollout and rollback share: the policy (its
// harden.signature and delivery sections), --fallback and --mirror.
type fallbackFlags struct {
	common
	mode    string
	mirrors []string
}

const fallbackHelp = `Registry fallback: when the pods cannot pull the image (ErrImagePull,
ImagePullBackOff…), or when the policy requires a signature (harden.signature.required) and
the image's does not verify, plimsoll looks for a replacement: the same digest in a mirror of
its registry (--mirror, or the policy's delivery.mirrors), then the newest digests of the
repository that 'plimsoll check' judged GO (from --store), at the origin and in the mirrors.
A candidate counts only when plimsoll can resolve it and, with a signature policy, its
signature verifies there. --fallback offer (the default) stops and names it; apply switches
to it; off does neither.`

// How an offered replacement is taken.
const (
	rolloutAdvice  = "rerun with --image %s, or with --fallback apply"
	rollbackAdvice = "rerun with --fallback apply, or set the image to %s yourself"
)

func (f *fallbackFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.policyPath, "policy", "p", "", "policy file: harden.signature and the delivery section (default: the built-in seed policy)")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow plain-HTTP registries beyond loopback")
	fl.StringVar(&f.mode, "fallback", "", "off, offer or apply (default: the policy's delivery.fallback, offer)")
	fl.StringArrayVar(&f.mirrors, "mirror", nil, "REGISTRY=MIRROR[/PREFIX]: a registry holding copies of REGISTRY's images (repeatable)")
}

// fallbacks is the registry fallback of one command.
type fallbacks struct {
	mode     fallback.Mode
	finder   *fallback.Finder
	verifier *sign.Verifier // nil: the policy asks for no signature
	required bool           // a signature that does not verify stops the command
	opts     image.Options
}

// setup reads the policy (read with f.policy) and the flags. The store (dsn) is opened only
// when a fallback is looked for, and only for reading.
func (f *fallbackFlags) setup(pol *config.Policy, dsn string, log *slog.Logger) (*fallbacks, error) {
	modeText := f.mode
	if modeText == "" {
		modeText = pol.Delivery.Fallback
	}
	mode, err := fallback.ParseMode(modeText)
	if err != nil {
		return nil, fmt.Errorf("%w: --fallback: %v", ErrUsage, err)
	}
	mirrors := map[string][]string{}
	for k, v := range pol.Delivery.Mirrors {
		mirrors[k] = append(mirrors[k], v...)
	}
	for _, m := range f.mirrors {
		from, to, ok := strings.Cut(m, "=")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("%w: --mirror %q: want REGISTRY=MIRROR", ErrUsage, m)
		}
		mirrors[from] = append(mirrors[from], to)
	}
	opts := f.imageOptions()
	opts.Logger = log
	signOpts := []sign.Option{sign.WithLogger(log)}
	if f.insecure {
		signOpts = append(signOpts, sign.WithInsecure())
	}
	verifier, err := sign.NewVerifier(pol.Harden.Signature, f.policyDir(), signOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: policy harden.signature: %v", ErrUsage, err)
	}
	fb := &fallbacks{mode: mode, verifier: verifier, required: pol.Harden.Signature.Required, opts: opts,
		finder: &fallback.Finder{Mirrors: mirrors, Verifier: verifier, Image: opts, Logger: log}}
	if dsn = storeDSN(dsn); dsn != "none" {
		fb.finder.Runs = lazyRuns(dsn)
	}
	return fb, nil
}

// lazyRuns lists runs from the store at a DSN, opening it for each call: a fallback is looked
// for rarely, and a rollout must not hold the database open for its whole length.
type lazyRuns string

func (dsn lazyRuns) ListRuns(ctx context.Context, f store.Filter) ([]store.RunSummary, error) {
	st, err := open.Open(ctx, string(dsn))
	if err != nil {
		return nil, err
	}
	runs, err := st.ListRuns(ctx, f)
	return runs, errors.Join(err, st.Close())
}

// find looks for a replacement of img; with mode apply it returns the image to use, otherwise
// "" and a note that says what is offered (and how to take it: advice, a format taking the
// replacement) or why there is none.
func (fb *fallbacks) find(ctx context.Context, img, digest, advice string) (use string, note string) {
	c, _, err := fb.finder.Find(ctx, img, digest, "") // the finder logs the candidates it passed over
	if err != nil {
		return "", err.Error()
	}
	from := "[" + c.Source + signedNote(c.Signature) + "]"
	if fb.mode == fallback.Apply {
		return c.Ref, from
	}
	return "", "fallback offered: " + c.Ref + " " + from + "; " + fmt.Sprintf(advice, c.Ref)
}

func signedNote(sig string) string {
	if sig == "" {
		return ""
	}
	return "; signature: " + sig
}

// onPull is the answer to pods that cannot pull image: nil when the fallback is off.
func (fb *fallbacks) onPull(advice string) func(ctx context.Context, image string, failures []kube.PullFailure) (string, string) {
	if fb.mode == fallback.Off {
		return nil
	}
	return func(ctx context.Context, image string, _ []kube.PullFailure) (string, string) {
		return fb.find(ctx, image, "", advice)
	}
}

// verify checks img's signature when the policy configures one, and returns the image to
// deploy: img, or with --fallback apply the replacement. A signature that does not verify is
// a warning unless the policy requires it (harden.signature.required); then, with no
// replacement applied, it is a NO-GO that names what the fallback offers.
func (fb *fallbacks) verify(ctx context.Context, w io.Writer, img, advice string) (string, error) {
	if fb.verifier == nil {
		return img, nil
	}
	why, digest := "", ""
	resolved, err := image.Resolve(ctx, string(image.Registry)+":"+img, fb.opts)
	if err == nil {
		digest = resolved.Digest.String()
		var r sign.Result
		if r, err = fb.verifier.Verify(ctx, resolved); err == nil {
			fmt.Fprintf(w, "signature: %s: %d of %d signatures verify with %s\n", img, len(r.Verified), r.Found, r.Policy)
			return img, nil
		}
		why = "its signature does not verify: " + err.Error()
	} else {
		why = "it cannot be read to verify its signature: " + err.Error()
	}
	reason := fmt.Sprintf("%s: %s", img, why)
	if !fb.required {
		fmt.Fprintf(w, "signature: WARNING: %s (the policy does not require it)\n", reason)
		return img, nil
	}
	if fb.mode != fallback.Off {
		use, note := fb.find(ctx, img, digest, advice)
		if use != "" {
			fmt.Fprintf(w, "signature: %s; using %s %s instead\n", reason, use, note)
			return use, nil
		}
		reason += "; " + note
	}
	return "", &DecisionError{Decision: verdict.NoGo, Summary: "image not signed as the policy requires", Reason: reason}
}
