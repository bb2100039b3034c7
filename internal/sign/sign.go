// Package sign reads what is attached to an image beside its layers — cosign signatures and
// SBOMs — and verifies the signatures, offline, with sigstore's libraries.
//
// # Signatures
//
// Verify looks for two kinds of signature of an image, in the registry it was read from (or in
// the OCI layout it was read from):
//
//   - cosign's classic format: the tag sha256-<hex>.sig beside the image, an OCI manifest whose
//     every layer is a simple-signing payload (application/vnd.dev.cosign.simplesigning.v1+json)
//     with its base64 signature in the layer annotation dev.cosignproject.cosign/signature and,
//     for keyless signatures, the signing certificate and its chain in
//     dev.sigstore.cosign/certificate and dev.sigstore.cosign/chain. This is what
//     `cosign sign --key` and `cosign sign` (cosign 2) write. The payload's
//     critical.image.docker-manifest-digest must name the image.
//   - sigstore bundles attached as OCI referrers (artifactType
//     application/vnd.dev.sigstore.bundle.v0.3+json), as `cosign sign` writes with the new
//     bundle format: a DSSE envelope holding an in-toto statement of predicate type
//     https://sigstore.dev/cosign/sign/v1 whose subject is the image digest, or a message
//     signature over the image digest. Bundles of other predicate types are attestations, not
//     signatures, and are left to FindSBOMs.
//
// A signature of the multi-platform index the image reference points to counts as a signature
// of the platform image Resolve picked from it.
//
// With a public key (harden.signature.key, a PEM file), the signature must verify with it: ECDSA
// or RSA with SHA-256, or pure Ed25519, as cosign signs with a key. Keyless
// (harden.signature.identity and issuer), the signing certificate must chain to a trusted
// certificate authority, carry the code-signing usage, be valid now, have a subject alternative
// name matching the identity regular expression (unanchored, as cosign's
// --certificate-identity-regexp: anchor it with ^…$) and an OIDC issuer extension
// (1.3.6.1.4.1.57264.1.8, or the older .1.1) equal to the issuer.
//
// The trusted certificate authorities of keyless verification are given with WithRoots or,
// failing that, read from the file $SIGSTORE_ROOT_FILE (cosign's own variable): a PEM file of
// the Fulcio root and intermediate certificates (self-signed ones are the roots).
//
// Signatures are checked with sigstore's libraries (sigstore/sigstore's signature and dsse
// packages, sigstore-go's Fulcio certificate summary) and the chain with crypto/x509.
// sigstore-go's own bundle verifier is not used: its packages need modules this build does not
// carry (Rekor, TUF, timestamp authority clients).
//
// # What is not checked
//
// Verification is offline: no transparency log (Rekor) inclusion, no signed certificate
// timestamp (SCT) and no RFC 3161 timestamp is checked, even when a signature carries them, as
// `cosign verify --insecure-ignore-tlog` does. Without a trusted signing time a certificate must
// be valid at the time of verification, so the ten-minute certificates of the public-good Fulcio
// only verify during their ten minutes: keyless verification is meant for private certificate
// authorities with long-lived code-signing certificates.
//
// # SBOMs
//
// FindSBOMs lists the SBOMs attached to an image: in-toto attestations of an SPDX or CycloneDX
// predicate (cosign attest's sha256-<hex>.att tag, or a sigstore bundle referrer), OCI referrers
// whose artifact type or layers are SPDX or CycloneDX documents, and cosign attach sbom's
// sha256-<hex>.sbom tag. It reports presence; it does not verify attestation signatures.
//
// # Transports
//
// Attachments live in registries and OCI layouts. An image read from the Docker daemon or a
// docker-archive has none to read: Verify and FindSBOMs fail with ErrNoRegistry, whose message
// says how to check the image where its attachments are.
package sign

import (
	"crypto/x509"
	"errors"
	"log/slog"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Errors Verify and FindSBOMs return where a caller may want to branch. Every verification
// failure wraps ErrNotVerified and one of ErrNoSignatures, ErrBadSignature and ErrNoRegistry;
// any other error from Verify means it could not tell.
var (
	// ErrNotVerified is wrapped by every "the image is not signed as the policy wants".
	ErrNotVerified = errors.New("signature not verified")
	// ErrNoSignatures says the image has no signature at all.
	ErrNoSignatures = errors.New("no signatures found")
	// ErrBadSignature says signatures were found but none verified.
	ErrBadSignature = errors.New("no signature verifies")
	// ErrNoRegistry says the image was read from a transport that keeps no attachments.
	ErrNoRegistry = errors.New("no registry to read attachments from")
)

// kindError is an error with a message of its own that wraps sentinel kinds.
type kindError struct {
	msg   string
	kinds []error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.kinds }

// Option tunes NewVerifier and FindSBOMs.
type Option func(*options)

type options struct {
	keychain authn.Keychain
	insecure bool
	roots    []*x509.Certificate
	log      *slog.Logger
}

func newOptions(opts []Option) options {
	o := options{keychain: authn.DefaultKeychain, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithKeychain sets where registry credentials come from (default: the Docker config file and
// its credential helpers).
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// WithInsecure allows plain-http registries besides loopback ones, which always may be.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithRoots sets the certificates keyless verification trusts instead of $SIGSTORE_ROOT_FILE:
// self-signed ones are roots, the others intermediates.
func WithRoots(certs ...*x509.Certificate) Option {
	return func(o *options) { o.roots = append(o.roots, certs...) }
}

// WithLogger sets the logger that receives debug lines; nil discards them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// Attachment names one thing attached to an image.
type Attachment struct {
	// How it is attached: "cosign tag sha256-….sig", "OCI referrer", …
	How string `json:"how"`
	// Digest is the attachment's manifest digest.
	Digest v1.Hash `json:"digest"`
	// Subject is the manifest it is attached to: the image's, or its index's.
	Subject v1.Hash `json:"subject"`
}
