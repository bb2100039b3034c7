package sign

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/image"
)

// predicateAnnotation is the layer annotation cosign attest gives each attestation.
const predicateAnnotation = "predicateType"

// SBOMs is what FindSBOMs found.
type SBOMs struct {
	// Where is the store the attachments were read from.
	Where string `json:"where"`
	Found []SBOM `json:"found,omitempty"`
}

// SBOM is one SBOM attached to an image.
type SBOM struct {
	Attachment
	// Format is "SPDX" or "CycloneDX".
	Format string `json:"format"`
	// Type is the media type or in-toto predicate type that says so.
	Type string `json:"type"`
}

// FindSBOMs lists the SBOMs attached to img where img was read from (see the package doc). An
// image read from the Docker daemon or a docker-archive gives an error wrapping ErrNoRegistry;
// any other error means FindSBOMs could not tell.
func FindSBOMs(ctx context.Context, img *image.Image, opts ...Option) (SBOMs, error) {
	o := newOptions(opts)
	st, err := openStore(img, o)
	if err != nil {
		return SBOMs{}, err
	}
	out := SBOMs{Where: st.String()}
	subjects, err := st.subjects(ctx, img)
	if err != nil {
		return out, err
	}
	for _, s := range subjects {
		if err := sbomReferrers(ctx, st, s, &out); err != nil {
			return out, err
		}
		for _, suffix := range []string{"att", "sbom"} {
			if err := sbomTag(ctx, st, s, suffix, &out); err != nil {
				return out, err
			}
		}
	}
	o.log.Debug("SBOMs found", "image", img.Ref, "where", out.Where, "found", len(out.Found))
	return out, nil
}

// sbomReferrers adds the SBOMs among subject's referrers: by artifact type, by the predicate
// type of a bundle attestation, or by the media type of a layer of the referrer's manifest.
func sbomReferrers(ctx context.Context, st store, subject v1.Hash, out *SBOMs) error {
	descs, err := st.referrers(ctx, subject)
	if err != nil {
		return err
	}
	for i, d := range descs {
		if i == maxAttachments {
			break
		}
		att := Attachment{How: "OCI referrer", Digest: d.Digest, Subject: subject}
		typ, ann, err := artifactOf(ctx, st, d)
		if err != nil {
			return err
		}
		if f := formatOfMediaType(typ); f != "" {
			out.Found = append(out.Found, SBOM{Attachment: att, Format: f, Type: typ})
			continue
		}
		if strings.HasPrefix(typ, bundleMediaType) {
			if pt := ann[predicateTypeAnnotation]; formatOfPredicate(pt) != "" {
				att.How = "sigstore bundle attestation"
				out.Found = append(out.Found, SBOM{Attachment: att, Format: formatOfPredicate(pt), Type: pt})
			}
			continue
		}
		// Another kind of artifact, or an image-style one (an image config and SBOM layers).
		img, err := st.manifest(ctx, d.Digest)
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return fmt.Errorf("%s: manifest %s: %w", st, d.Digest, err)
		}
		for _, l := range m.Layers {
			if f := formatOfMediaType(string(l.MediaType)); f != "" {
				out.Found = append(out.Found, SBOM{Attachment: att, Format: f, Type: string(l.MediaType)})
				break
			}
		}
	}
	return nil
}

// sbomTag adds the SBOMs of cosign's sha256-<hex>.att (attestations, by their predicateType
// annotation) or sha256-<hex>.sbom (cosign attach sbom, by layer media type) tag.
func sbomTag(ctx context.Context, st store, subject v1.Hash, suffix string, out *SBOMs) error {
	tag := tagFor(subject, suffix)
	img, dg, err := st.tagged(ctx, tag)
	if err != nil || img == nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("%s: tag %s: %w", st, tag, err)
	}
	att := Attachment{How: "cosign tag " + tag, Digest: dg, Subject: subject}
	for i, l := range m.Layers {
		if i == maxAttachments {
			break
		}
		t := l.Annotations[predicateAnnotation]
		f := formatOfPredicate(t)
		if f == "" {
			t = string(l.MediaType)
			f = formatOfMediaType(t)
		}
		if f != "" {
			out.Found = append(out.Found, SBOM{Attachment: att, Format: f, Type: t})
		}
	}
	return nil
}

// formatOfMediaType names the SBOM format of a media type ("application/spdx+json",
// "text/spdx", "application/vnd.cyclonedx+json", …), "" for one that is no SBOM.
func formatOfMediaType(mt string) string {
	t := strings.ToLower(mt)
	switch {
	case strings.HasPrefix(t, "application/spdx") || strings.HasPrefix(t, "text/spdx") || strings.HasPrefix(t, "application/vnd.spdx"):
		return "SPDX"
	case strings.HasPrefix(t, "application/vnd.cyclonedx"):
		return "CycloneDX"
	}
	return ""
}

// formatOfPredicate names the SBOM format of an in-toto predicate type, "" for another.
func formatOfPredicate(pt string) string {
	switch {
	case strings.HasPrefix(pt, "https://spdx.dev/Document"):
		return "SPDX"
	case strings.HasPrefix(pt, "https://cyclonedx.org/bom"):
		return "CycloneDX"
	}
	return ""
}
