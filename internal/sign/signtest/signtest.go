// Package signtest is the signing side of package sign, for tests only: it signs images in an
// in-process registry exactly as cosign does (classic sha256-<hex>.sig tags, and sigstore
// bundles attached as OCI referrers), with keys generated in the test and a test certificate
// authority issuing Fulcio-like certificates, and attaches SBOMs. It spells cosign's wire format
// on its own, so that a mistake in package sign's reading of it shows.
package signtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// cosign's wire format.
const (
	SimpleSigningMediaType  = "application/vnd.dev.cosign.simplesigning.v1+json"
	BundleMediaType         = "application/vnd.dev.sigstore.bundle.v0.3+json"
	EmptyMediaType          = "application/vnd.oci.empty.v1+json"
	SignPredicateType       = "https://sigstore.dev/cosign/sign/v1"
	PredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	inTotoPayloadType       = "application/vnd.in-toto+json"
	signatureAnnotation     = "dev.cosignproject.cosign/signature"
	certificateAnnotation   = "dev.sigstore.cosign/certificate"
	chainAnnotation         = "dev.sigstore.cosign/chain"
)

// Tag is the tag cosign stores an attachment of d under ("sha256-<hex>.sig").
func Tag(d v1.Hash, suffix string) string { return d.Algorithm + "-" + d.Hex + "." + suffix }

// StartRegistry serves an in-memory registry on 127.0.0.1, with or without the referrers API,
// and returns its host:port.
func StartRegistry(t testing.TB, referrers bool) string {
	t.Helper()
	return testenv.Registry(t, nil, registry.WithReferrersSupport(referrers))
}

// RandomImage is a small image of its own content.
func RandomImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img to ref and resolves it as plimsoll would ("registry:REF").
func Push(t testing.TB, ref string, img v1.Image) *image.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return Resolve(t, "registry:"+ref)
}

func Resolve(t testing.TB, ref string) *image.Image {
	t.Helper()
	got, err := image.Resolve(context.Background(), ref, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Signer signs as cosign does: with a key, or with a key certified by a test CA.
type Signer struct {
	// SV signs.
	SV signature.SignerVerifier
	// PubPath is the PEM public key file, for key policies.
	PubPath string
	// Cert and its chain are the keyless signing certificate, nil for a key.
	Cert  *x509.Certificate
	chain []*x509.Certificate
}

// NewKeySigner generates an ECDSA P-256 key (cosign's default) and writes its public key.
func NewKeySigner(t testing.TB) *Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{SV: sv, PubPath: writePub(t, priv.Public())}
}

// NewEd25519Signer generates an Ed25519 key, signing pure Ed25519 as cosign does.
func NewEd25519Signer(t testing.TB) *Signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadED25519SignerVerifier(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{SV: sv, PubPath: writePub(t, pub)}
}

func writePub(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// CA is a root and an intermediate certificate authority, as Fulcio has.
type CA struct {
	Root, Inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	root := mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn + " intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	inter := mustCert(t, interTmpl, root, interKey.Public(), rootKey)
	return &CA{Root: root, Inter: inter, rootKey: rootKey, interKey: interKey}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Fulcio OIDC issuer extensions: the current one (a DER UTF8String) and the deprecated one
// (the raw string).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// CertOpts shape a leaf certificate.
type CertOpts struct {
	// OldIssuerOID puts the issuer in the deprecated extension 1.1 instead of 1.8.
	OldIssuerOID bool
	// expired makes the certificate's validity end an hour ago.
	Expired bool
}

// NewKeylessSigner generates an ephemeral key and has ca certify it for san (an email or a URI)
// and the OIDC issuer, as Fulcio does.
func NewKeylessSigner(t testing.TB, ca *CA, san, issuer string, co CertOpts) *Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		NotBefore:    now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if co.Expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
	if u, err := url.Parse(san); err == nil && u.Scheme != "" {
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{san}
	}
	if co.OldIssuerOID {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidIssuerV1, Value: []byte(issuer)})
	} else {
		v, err := asn1.MarshalWithParams(issuer, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidIssuerV2, Value: v})
	}
	leaf := mustCert(t, tmpl, ca.Inter, priv.Public(), ca.interKey)
	return &Signer{SV: sv, Cert: leaf, chain: []*x509.Certificate{ca.Inter, ca.Root}}
}

func (s *Signer) sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	sig, err := s.SV.SignMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// SignClassic adds a cosign classic signature of the manifest signed (named in the payload) to
// the tag sha256-<subject>.sig, as `cosign sign --key` (tlog off) or keyless cosign 2 does.
func SignClassic(t testing.TB, repo name.Repository, subject, signed v1.Hash, s *Signer) {
	t.Helper()
	p, err := payload.Cosign{Image: repo.Digest(signed.String())}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{signatureAnnotation: base64.StdEncoding.EncodeToString(s.sign(t, p))}
	if s.Cert != nil {
		leaf, err := cryptoutils.MarshalCertificateToPEM(s.Cert)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := cryptoutils.MarshalCertificatesToPEM(s.chain)
		if err != nil {
			t.Fatal(err)
		}
		ann[certificateAnnotation], ann[chainAnnotation] = string(leaf), string(chain)
	}
	tag := repo.Tag(Tag(subject, "sig"))
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if existing, err := remote.Image(tag); err == nil {
		base = existing // cosign appends to the signatures already there
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer(p, SimpleSigningMediaType), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// Bundle signs a cosign signature statement about the manifest signed into a sigstore bundle
// (DSSE envelope, v0.3), as `cosign sign` with the new bundle format does (without tlog).
func Bundle(t testing.TB, repo name.Repository, signed v1.Hash, predicateType string, s *Signer) []byte {
	t.Helper()
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": repo.Name(), "digest": map[string]string{signed.Algorithm: signed.Hex}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	envJSON, err := sigdsse.WrapSigner(s.SV, inTotoPayloadType).SignMessage(bytes.NewReader(stmt))
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(envJSON, &env); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	vm := &protobundle.VerificationMaterial{}
	if s.Cert != nil {
		vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: s.Cert.Raw}}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "test-key"}}
	}
	b, err := protojson.Marshal(&protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: stmt, PayloadType: inTotoPayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SignBundle attaches a bundle signing signed to subject as an OCI referrer.
func SignBundle(t testing.TB, repo name.Repository, subject, signed v1.Hash, s *Signer) {
	t.Helper()
	b := Bundle(t, repo, signed, SignPredicateType, s)
	PutReferrer(t, repo, subject, BundleMediaType, BundleMediaType, b, map[string]string{
		"dev.sigstore.bundle.content": "dsse-envelope", PredicateTypeAnnotation: SignPredicateType,
	})
}

// rawManifest is a manifest to Put as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// ReferrerManifest builds an OCI 1.1 artifact manifest: an empty config, one layer, subject.
func ReferrerManifest(t testing.TB, subject v1.Descriptor, artifactType string, layer v1.Layer, ann map[string]string) ([]byte, v1.Layer) {
	t.Helper()
	cfg := static.NewLayer([]byte("{}"), EmptyMediaType)
	desc := func(l v1.Layer) v1.Descriptor {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		sz, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := l.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{MediaType: mt, Digest: d, Size: sz}
	}
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config: desc(cfg), Layers: []v1.Descriptor{desc(layer)},
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}, Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw, cfg
}

// PutReferrer pushes an artifact manifest whose subject is the manifest subject: with the
// referrers API the registry indexes it, without it ggcr updates the sha256-<hex> fallback tag.
func PutReferrer(t testing.TB, repo name.Repository, subject v1.Hash, artifactType, layerType string, content []byte, ann map[string]string) {
	t.Helper()
	sub, err := remote.Head(repo.Digest(subject.String()))
	if err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer(content, types.MediaType(layerType))
	raw, cfg := ReferrerManifest(t, *sub, artifactType, layer, ann)
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}
