package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
)

// The names cosign gives things.
const (
	signatureAnnotation   = "dev.cosignproject.cosign/signature"
	certificateAnnotation = "dev.sigstore.cosign/certificate"
	chainAnnotation       = "dev.sigstore.cosign/chain"
	// bundleMediaType prefixes the media types of sigstore bundles (…v0.3+json and older).
	bundleMediaType         = "application/vnd.dev.sigstore.bundle"
	predicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// signPredicateType is the predicate of the statement `cosign sign` puts in a bundle.
	signPredicateType = "https://sigstore.dev/cosign/sign/v1"
)

// Verifier verifies image signatures against one policy: a public key, or a keyless identity
// and issuer. It is safe for concurrent use.
type Verifier struct {
	// how says what a signature must verify with, for messages.
	how string
	// key is the policy's public key; nil for keyless verification.
	key     signature.Verifier
	keyPath string
	// identity, issuer, roots and intermediates are the keyless policy.
	identity             *regexp.Regexp
	issuer               string
	roots, intermediates *x509.CertPool
	o                    options
}

// Result is what Verify found.
type Result struct {
	// Digest is the image's manifest digest.
	Digest v1.Hash `json:"digest"`
	// Where is the store the signatures were read from ("registry 127.0.0.1:5000/app").
	Where string `json:"where,omitempty"`
	// Policy says what a signature had to verify with.
	Policy string `json:"policy"`
	// Found counts the signatures found, verified or not.
	Found int `json:"found"`
	// Verified are the signatures that verified.
	Verified []Signature `json:"verified,omitempty"`
	// Failures say why each other signature did not verify.
	Failures []string `json:"failures,omitempty"`
}

// Signature is one verified signature.
type Signature struct {
	Attachment
	// Signer is who signed: the key file, or the certificate's identity and issuer.
	Signer string `json:"signer"`
}

// NewVerifier returns the verifier of policy s, nil when s configures neither a key nor a
// keyless identity. A relative key path is read from baseDir (the policy file's folder).
// Keyless verification needs trusted certificate authorities: WithRoots, or the file named by
// $SIGSTORE_ROOT_FILE; without either NewVerifier fails.
func NewVerifier(s config.Signature, baseDir string, opts ...Option) (*Verifier, error) {
	o := newOptions(opts)
	switch {
	case s.Key != "":
		return newKeyVerifier(s.Key, baseDir, o)
	case s.Identity != "":
		return newKeylessVerifier(s.Identity, s.Issuer, o)
	}
	return nil, nil
}

func newKeyVerifier(key, baseDir string, o options) (*Verifier, error) {
	path := key
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signature key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("signature key %s: not a PEM public key: %w", path, err)
	}
	sv, err := loadVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("signature key %s: %w", path, err)
	}
	return &Verifier{how: "key " + path, key: sv, keyPath: path, o: o}, nil
}

// loadVerifier loads the verifier of a public key as cosign signs with it: SHA-256 for ECDSA
// and RSA (PKCS #1 v1.5), pure Ed25519.
func loadVerifier(pub crypto.PublicKey) (signature.Verifier, error) {
	return signature.LoadVerifier(pub, crypto.SHA256)
}

func newKeylessVerifier(identity, issuer string, o options) (*Verifier, error) {
	re, err := regexp.Compile(identity)
	if err != nil {
		return nil, fmt.Errorf("signature identity: %w", err)
	}
	roots, intermediates, err := trustedCAs(o)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		how:      fmt.Sprintf("keyless identity %q issued by %q", identity, issuer),
		identity: re, issuer: issuer, roots: roots, intermediates: intermediates, o: o,
	}, nil
}

// Policy says what a signature must verify with ("key /etc/cosign.pub").
func (v *Verifier) Policy() string { return v.how }

// Verify looks for img's signatures where img was read from and verifies them. It returns nil
// when at least one verifies. An error wrapping ErrNotVerified (and ErrNoSignatures,
// ErrBadSignature or ErrNoRegistry) says why none does; any other error means Verify could not
// tell (a registry that does not answer, ctx ended). Result says what was found either way.
func (v *Verifier) Verify(ctx context.Context, img *image.Image) (Result, error) {
	res := Result{Digest: img.Digest, Policy: v.how}
	st, err := openStore(img, v.o)
	if err != nil {
		if errors.Is(err, ErrNoRegistry) {
			return res, &kindError{msg: err.Error(), kinds: []error{ErrNotVerified, ErrNoRegistry}}
		}
		return res, err
	}
	res.Where = st.String()
	subjects, err := st.subjects(ctx, img)
	if err != nil {
		return res, err
	}
	for _, s := range subjects {
		if err := v.classic(ctx, st, s, &res); err != nil {
			return res, err
		}
		if err := v.bundles(ctx, st, s, &res); err != nil {
			return res, err
		}
	}
	v.o.log.Debug("signatures verified", "image", img.Ref, "where", res.Where, "found", res.Found, "verified", len(res.Verified))
	switch {
	case len(res.Verified) > 0:
		return res, nil
	case res.Found == 0:
		return res, &kindError{kinds: []error{ErrNotVerified, ErrNoSignatures}, msg: fmt.Sprintf(
			"no signatures found for %s in %s (looked for the cosign tag %s and sigstore bundle referrers)",
			img.Digest, res.Where, tagFor(img.Digest, "sig"))}
	}
	what := fmt.Sprintf("none of the %d signatures", res.Found)
	if res.Found == 1 {
		what = "the one signature"
	}
	return res, &kindError{kinds: []error{ErrNotVerified, ErrBadSignature}, msg: fmt.Sprintf(
		"%s of %s in %s fails to verify with %s: %s",
		what, img.Digest, res.Where, v.how, strings.Join(res.Failures, "; "))}
}

// classic verifies the signatures of cosign's sha256-<hex>.sig tag for subject.
func (v *Verifier) classic(ctx context.Context, st store, subject v1.Hash, res *Result) error {
	tag := tagFor(subject, "sig")
	sigs, dg, err := st.tagged(ctx, tag)
	if err != nil || sigs == nil {
		return err
	}
	m, err := sigs.Manifest()
	if err != nil {
		return fmt.Errorf("%s: tag %s: %w", st, tag, err)
	}
	att := Attachment{How: "cosign tag " + tag, Digest: dg, Subject: subject}
	for i, l := range m.Layers {
		if i == maxAttachments {
			break
		}
		res.Found++
		layer, err := sigs.LayerByDigest(l.Digest)
		if err != nil {
			return fmt.Errorf("%s: tag %s: %w", st, tag, err)
		}
		payload, err := readBlob(layer)
		if err != nil {
			return fmt.Errorf("%s: tag %s: payload %s: %w", st, tag, l.Digest, err)
		}
		signer, reason := v.verifyClassic(payload, l.Annotations, subject)
		if reason != "" {
			res.Failures = append(res.Failures, fmt.Sprintf("%s signature %d: %s", att.How, i+1, reason))
			continue
		}
		res.Verified = append(res.Verified, Signature{Attachment: att, Signer: signer})
	}
	return nil
}

// verifyClassic verifies one classic signature: its payload and layer annotations. It returns
// the signer, or why the signature does not verify.
func (v *Verifier) verifyClassic(payload []byte, ann map[string]string, subject v1.Hash) (signer, reason string) {
	sig, err := base64.StdEncoding.DecodeString(ann[signatureAnnotation])
	if err != nil || len(sig) == 0 {
		return "", "no base64 signature in annotation " + signatureAnnotation
	}
	signed, _, err := parsePayload(payload)
	if err != nil {
		return "", err.Error()
	}
	if signed != subject {
		return "", fmt.Sprintf("the payload signs %s, another digest", signed)
	}
	var leaf *x509.Certificate
	var chain []*x509.Certificate
	if c := ann[certificateAnnotation]; c != "" {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(c))
		if err != nil || len(certs) == 0 {
			return "", "unreadable signing certificate in annotation " + certificateAnnotation
		}
		leaf = certs[0]
		if c := ann[chainAnnotation]; c != "" {
			if chain, err = cryptoutils.UnmarshalCertificatesFromPEM([]byte(c)); err != nil {
				return "", "unreadable certificate chain in annotation " + chainAnnotation
			}
		}
	}
	sv, signer, reason := v.verifierFor(leaf, chain)
	if reason != "" {
		return "", reason
	}
	if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)); err != nil {
		return "", "the signature does not verify with " + v.signedWith() + ": " + err.Error()
	}
	return signer, ""
}

// signedWith names what a signature is checked with, for reasons.
func (v *Verifier) signedWith() string {
	if v.key != nil {
		return "the key " + v.keyPath
	}
	return "its certificate"
}

// verifierFor returns what a signature made with leaf (nil for a bare key signature) must
// verify with, and who the signer is; or why leaf does not satisfy the policy.
func (v *Verifier) verifierFor(leaf *x509.Certificate, chain []*x509.Certificate) (signature.Verifier, string, string) {
	if v.key != nil {
		// cosign verify --key checks the signature with the key, whatever certificate came with it.
		return v.key, v.keyPath, ""
	}
	if leaf == nil {
		return nil, "", "signed with a key, without a certificate: the policy wants a keyless signature by " + v.how
	}
	signer, reason := v.checkCertificate(leaf, chain)
	if reason != "" {
		return nil, "", reason
	}
	sv, err := loadVerifier(leaf.PublicKey)
	if err != nil {
		return nil, "", "unusable certificate key: " + err.Error()
	}
	return sv, signer, ""
}

// checkCertificate checks a keyless signing certificate: it chains to a trusted root, is meant
// for code signing, is valid now (no transparency log gives a signing time), and names the
// policy's identity and issuer.
func (v *Verifier) checkCertificate(leaf *x509.Certificate, chain []*x509.Certificate) (signer, reason string) {
	inter := v.intermediates.Clone()
	for _, c := range chain {
		inter.AddCert(c)
	}
	// Go refuses a critical SAN extension it cannot read (Fulcio's otherName SAN);
	// SummarizeCertificate reads it below.
	c := *leaf
	c.UnhandledCriticalExtensions = nil
	for _, oid := range leaf.UnhandledCriticalExtensions {
		if !oid.Equal(cryptoutils.SANOID) {
			c.UnhandledCriticalExtensions = append(c.UnhandledCriticalExtensions, oid)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{
		Roots: v.roots, Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}); err != nil {
		return "", fmt.Sprintf("the signing certificate (subject %q, issued by %q) is not trusted: %v", leaf.Subject, leaf.Issuer, err)
	}
	sum, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		return "", "unreadable signing certificate: " + err.Error()
	}
	if sum.Issuer != v.issuer {
		return "", fmt.Sprintf("the certificate's OIDC issuer is %q, the policy wants %q", sum.Issuer, v.issuer)
	}
	sans := cryptoutils.GetSubjectAlternateNames(leaf)
	for _, san := range sans {
		if v.identity.MatchString(san) {
			return fmt.Sprintf("%s (issuer %s)", san, sum.Issuer), ""
		}
	}
	return "", fmt.Sprintf("the certificate's identity %q does not match %q", strings.Join(sans, ", "), v.identity)
}

// bundles verifies the sigstore bundles attached to subject as OCI referrers.
func (v *Verifier) bundles(ctx context.Context, st store, subject v1.Hash, res *Result) error {
	descs, err := st.referrers(ctx, subject)
	if err != nil {
		return err
	}
	n := 0
	for i, d := range descs {
		if i == maxAttachments {
			break
		}
		typ, ann, err := artifactOf(ctx, st, d)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(typ, bundleMediaType) {
			continue
		}
		if pt := ann[predicateTypeAnnotation]; pt != "" && pt != signPredicateType {
			continue // an attestation, not a signature
		}
		if n++; n > maxAttachments {
			break
		}
		res.Found++
		att := Attachment{How: "sigstore bundle referrer", Digest: d.Digest, Subject: subject}
		raw, reason, err := readBundle(ctx, st, d.Digest)
		if err != nil {
			return err
		}
		var signer string
		if reason == "" {
			signer, reason = v.verifyBundle(raw, subject)
		}
		if reason != "" {
			res.Failures = append(res.Failures, fmt.Sprintf("%s %s: %s", att.How, d.Digest, reason))
			continue
		}
		res.Verified = append(res.Verified, Signature{Attachment: att, Signer: signer})
	}
	return nil
}

// readBundle reads the bundle of a referrer manifest: an error when it cannot be read, a reason
// when the manifest holds none.
func readBundle(ctx context.Context, st store, d v1.Hash) ([]byte, string, error) {
	img, err := st.manifest(ctx, d)
	if err != nil {
		return nil, "", err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, "", fmt.Errorf("%s: manifest %s: %w", st, d, err)
	}
	for _, l := range m.Layers {
		if !strings.HasPrefix(string(l.MediaType), bundleMediaType) {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, "", fmt.Errorf("%s: bundle %s: %w", st, l.Digest, err)
		}
		raw, err := readBlob(layer)
		if err != nil {
			return nil, "", fmt.Errorf("%s: bundle %s: %w", st, l.Digest, err)
		}
		return raw, "", nil
	}
	return nil, "the manifest has no bundle layer", nil
}

// verifyBundle verifies a sigstore bundle against subject: a DSSE envelope holding a cosign
// signature statement about it, or a message signature over its digest. Transparency log
// entries and timestamps in the bundle are not checked.
func (v *Verifier) verifyBundle(raw []byte, subject v1.Hash) (signer, reason string) {
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &b); err != nil {
		return "", "not a sigstore bundle: " + err.Error()
	}
	if !strings.HasPrefix(b.GetMediaType(), bundleMediaType) {
		return "", fmt.Sprintf("bundle media type %q is not a sigstore bundle's", b.GetMediaType())
	}
	leaf, chain, reason := bundleCertificates(&b)
	if reason != "" {
		return "", reason
	}
	sv, signer, reason := v.verifierFor(leaf, chain)
	if reason != "" {
		return "", reason
	}
	switch {
	case b.GetDsseEnvelope() != nil:
		reason = verifyEnvelope(sv, b.GetDsseEnvelope(), subject)
	case b.GetMessageSignature() != nil:
		reason = verifyMessage(sv, b.GetMessageSignature(), subject)
	default:
		reason = "the bundle holds neither a DSSE envelope nor a message signature"
	}
	if reason != "" {
		return "", reason
	}
	return signer, ""
}

// bundleCertificates returns a bundle's signing certificate and chain, nil for a key bundle.
func bundleCertificates(b *protobundle.Bundle) (*x509.Certificate, []*x509.Certificate, string) {
	var raws [][]byte
	vm := b.GetVerificationMaterial()
	switch {
	case vm.GetPublicKey() != nil:
		return nil, nil, ""
	case vm.GetCertificate() != nil:
		raws = [][]byte{vm.GetCertificate().GetRawBytes()}
	case vm.GetX509CertificateChain() != nil:
		for _, c := range vm.GetX509CertificateChain().GetCertificates() {
			raws = append(raws, c.GetRawBytes())
		}
	}
	if len(raws) == 0 {
		return nil, nil, "the bundle has no verification material"
	}
	certs := make([]*x509.Certificate, len(raws))
	for i, r := range raws {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return nil, nil, "unreadable certificate in the bundle: " + err.Error()
		}
		certs[i] = c
	}
	return certs[0], certs[1:], ""
}

// verifyEnvelope verifies a bundle's DSSE envelope with sv and checks that it holds a cosign
// signature statement naming subject.
func verifyEnvelope(sv signature.Verifier, pe *protodsse.Envelope, subject v1.Hash) string {
	sigs := pe.GetSignatures()
	if len(sigs) != 1 {
		return fmt.Sprintf("the DSSE envelope has %d signatures, a bundle has one", len(sigs))
	}
	env, err := json.Marshal(dsse.Envelope{
		PayloadType: pe.GetPayloadType(),
		Payload:     base64.StdEncoding.EncodeToString(pe.GetPayload()),
		Signatures:  []dsse.Signature{{KeyID: sigs[0].GetKeyid(), Sig: base64.StdEncoding.EncodeToString(sigs[0].GetSig())}},
	})
	if err != nil {
		return "unreadable DSSE envelope: " + err.Error()
	}
	dv := sigdsse.WrapVerifier(sv, sigdsse.WithExpectedPayloadType(inTotoPayloadType))
	if err := dv.VerifySignature(bytes.NewReader(env), nil); err != nil {
		return "the DSSE envelope does not verify: " + err.Error()
	}
	s, err := parseStatement(pe.GetPayload())
	if err != nil {
		return err.Error()
	}
	if s.PredicateType != signPredicateType {
		return fmt.Sprintf("an attestation of %s, not an image signature", s.PredicateType)
	}
	if !s.names(subject) {
		return fmt.Sprintf("the signed statement is about another image, not %s", subject)
	}
	return ""
}

// verifyMessage verifies a bundle's message signature: over subject's digest, with sv.
func verifyMessage(sv signature.Verifier, ms *protocommon.MessageSignature, subject v1.Hash) string {
	md := ms.GetMessageDigest()
	if md.GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 || hex.EncodeToString(md.GetDigest()) != subject.Hex || subject.Algorithm != "sha256" {
		return fmt.Sprintf("the message signature is over another digest, not %s", subject)
	}
	if err := sv.VerifySignature(bytes.NewReader(ms.GetSignature()), bytes.NewReader(nil), sigopts.WithDigest(md.GetDigest())); err != nil {
		return "the message signature does not verify: " + err.Error()
	}
	return ""
}
