package harden

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign"
)

// signatureCheck verifies NEW's signature with the policy's key or keyless identity.
type signatureCheck struct {
	h config.Harden
	v *sign.Verifier
}

func (*signatureCheck) Name() string { return "signature" }

func (c *signatureCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if !c.h.Signature.Verifies() {
		return check.Result{Status: check.StatusSkipped, Source: "policy harden.signature",
			Threshold: "not checked: the policy says signatures are not used (harden.signature.verify: false)",
			Message:   "signatures are not used, by the policy's choice (harden.signature.verify: false): NEW's signature is not checked"}, nil
	}
	if c.v == nil {
		return check.Result{Status: check.StatusWarn, Source: "policy harden.signature",
			Measured:  "not verified",
			Threshold: "a signature that verifies with the policy's key or identity",
			Message: "not verified: no key or identity configured; set harden.signature.key (a cosign public key) or harden.signature.identity and issuer (keyless) to verify NEW's signature, " +
				"or harden.signature.verify: false if this team does not sign its images"}, nil
	}
	failing, fix := check.StatusWarn, "CAUTION because harden.signature.required is false"
	if c.h.Signature.Required {
		failing, fix = check.StatusFail, "NO-GO because harden.signature.required"
	}
	res, err := c.v.Verify(ctx, env.New)
	if err != nil && !errors.Is(err, sign.ErrNotVerified) {
		return check.Result{}, fmt.Errorf("verify the signature of %s: %w", env.New.Ref, err)
	}
	r := check.Result{
		Measured: describeSignatures(res, err), Baseline: "no OLD image",
		Threshold: "a signature that verifies with " + c.v.Policy(), Source: res.Where,
	}
	data := map[string]sign.Result{"new": res}
	r.Data = data
	if r.Source == "" {
		r.Source = string(env.New.Transport)
	}
	var oldVerified bool
	if env.Old != nil {
		ores, oerr := c.v.Verify(ctx, env.Old)
		oldVerified = oerr == nil
		r.Baseline = describeSignatures(ores, oerr)
		data["old"] = ores
	}
	if err == nil {
		r.Status = check.StatusPass
		r.Message = fmt.Sprintf("NEW is signed by %s (%s)", res.Verified[0].Signer, res.Verified[0].How)
		return r, nil
	}
	r.Status = failing
	r.Message = "NEW's signature is not verified: " + err.Error()
	if oldVerified {
		r.Message += "; a regression: OLD's signature verifies"
	}
	r.Message += " (" + fix + ")"
	return r, nil
}

// describeSignatures says in a few words what Verify found.
func describeSignatures(res sign.Result, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("%d of %s verify", len(res.Verified), count(res.Found, "signature"))
	case errors.Is(err, sign.ErrNoRegistry):
		return "no registry to read signatures from"
	case errors.Is(err, sign.ErrNotVerified) && res.Found == 0:
		return "no signatures"
	case errors.Is(err, sign.ErrNotVerified):
		return fmt.Sprintf("0 of %s verify", count(res.Found, "signature"))
	}
	return "could not tell: " + err.Error()
}

// sbomCheck looks for an SBOM attached to NEW.
type sbomCheck struct {
	h    config.Harden
	opts []sign.Option
}

func (*sbomCheck) Name() string { return "sbom" }

func (c *sbomCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	failing, fix := check.StatusWarn, "CAUTION because harden.sbom.required is false"
	if c.h.SBOM.Required {
		failing, fix = check.StatusFail, "NO-GO because harden.sbom.required; set it to false to accept images without one"
	}
	opts := append([]sign.Option{sign.WithLogger(env.Log)}, c.opts...)
	n, err := sign.FindSBOMs(ctx, env.New, opts...)
	if err != nil && !errors.Is(err, sign.ErrNoRegistry) {
		return check.Result{}, fmt.Errorf("look for SBOMs of %s: %w", env.New.Ref, err)
	}
	r := check.Result{
		Measured: describeSBOMs(n, err), Baseline: "no OLD image", Source: n.Where,
		Threshold: "an SPDX or CycloneDX SBOM attached (attestation or OCI referrer)",
	}
	data := map[string]sign.SBOMs{"new": n}
	r.Data = data
	if r.Source == "" {
		r.Source = string(env.New.Transport)
	}
	var oldHad bool
	if env.Old != nil {
		o, oerr := sign.FindSBOMs(ctx, env.Old, opts...)
		if oerr != nil && !errors.Is(oerr, sign.ErrNoRegistry) {
			return check.Result{}, fmt.Errorf("look for SBOMs of %s: %w", env.Old.Ref, oerr)
		}
		oldHad = len(o.Found) > 0
		r.Baseline = describeSBOMs(o, oerr)
		data["old"] = o
	}
	switch {
	case err != nil:
		r.Status = failing
		r.Message = "no SBOM found: " + err.Error() + " (" + fix + ")"
	case len(n.Found) == 0:
		r.Status = failing
		r.Message = fmt.Sprintf("no SBOM attached to NEW in %s (looked for SPDX and CycloneDX OCI referrers, in-toto attestations and cosign sbom tags): "+
			"attach one, e.g. `cosign attest --type spdxjson --predicate sbom.spdx.json %s` or `oras attach --artifact-type application/spdx+json %s sbom.spdx.json` (%s)",
			n.Where, pinned(env.New), pinned(env.New), fix)
	default:
		r.Status = check.StatusPass
		var fs []string
		for _, s := range n.Found {
			fs = append(fs, fmt.Sprintf("%s (%s %s)", s.Format, s.How, s.Digest))
		}
		r.Message = "NEW has an SBOM attached: " + list(fs)
		return r, nil
	}
	if oldHad {
		r.Message += "; a regression: OLD has one"
	}
	return r, nil
}

// pinned names an image by digest, for commands to copy ("host/repo@sha256:…"); "IMAGE" for
// an image that is not in a registry.
func pinned(img *image.Image) string {
	if img.Transport != image.Registry {
		return "IMAGE"
	}
	ref := strings.TrimPrefix(img.Ref, string(image.Registry)+":")
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref + "@" + img.Digest.String()
}

func describeSBOMs(s sign.SBOMs, err error) string {
	if err != nil {
		return "no registry to read attachments from"
	}
	if len(s.Found) == 0 {
		return "no SBOM attached"
	}
	formats := map[string]bool{}
	var fs []string
	for _, f := range s.Found {
		if !formats[f.Format] {
			formats[f.Format] = true
			fs = append(fs, f.Format)
		}
	}
	return fmt.Sprintf("%s attached (%s)", count(len(s.Found), "SBOM"), strings.Join(fs, ", "))
}
