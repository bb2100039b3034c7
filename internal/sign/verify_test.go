package sign

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

// signed is a scenario: an image pushed to a fresh registry, signed (or not) by sign.
type signed struct {
	name string
	// referrers turns the registry's referrers API on (off: ggcr's fallback tag is used).
	referrers bool
	sign      func(t *testing.T, repo name.Repository, img *image.Image)
	// wantErr is the sentinel Verify's error must wrap, nil for a verified image.
	wantErr error
	// wantMsg must appear in the error (or, for a verified image, in a signer or How).
	wantMsg string
}

// otherDigest is the digest of another image.
func otherDigest(t *testing.T) v1.Hash {
	d, err := signtest.RandomImage(t).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func runSigned(t *testing.T, tt signed, v func(t *testing.T) *Verifier) {
	t.Helper()
	host := signtest.StartRegistry(t, tt.referrers)
	img := signtest.Push(t, host+"/app:1", signtest.RandomImage(t))
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if tt.sign != nil {
		tt.sign(t, repo, img)
	}
	res, err := v(t).Verify(context.Background(), img)
	if tt.wantErr == nil {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if len(res.Verified) == 0 {
			t.Fatalf("no verified signature in %+v", res)
		}
		var got []string
		for _, s := range res.Verified {
			got = append(got, s.How+" "+s.Signer)
		}
		if !strings.Contains(strings.Join(got, "\n"), tt.wantMsg) {
			t.Errorf("verified %q, want %q in it", got, tt.wantMsg)
		}
		return
	}
	if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify error = %v, want %v (and ErrNotVerified)", err, tt.wantErr)
	}
	if !strings.Contains(err.Error(), tt.wantMsg) {
		t.Errorf("error %q does not say %q", err, tt.wantMsg)
	}
	if len(res.Verified) != 0 {
		t.Errorf("verified %+v despite the error", res.Verified)
	}
}

func TestVerifyWithKey(t *testing.T) {
	key := signtest.NewKeySigner(t)
	verifier := func(t *testing.T) *Verifier {
		v, err := NewVerifier(config.Signature{Key: key.PubPath}, "")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []signed{
		{name: "classic signature with the key", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignClassic(t, repo, img.Digest, img.Digest, key)
		}, wantMsg: "cosign tag sha256-"},
		{name: "bundle referrer with the key", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, key)
		}, wantMsg: "sigstore bundle referrer"},
		{name: "bundle referrer through the fallback tag", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, key)
		}, wantMsg: "sigstore bundle referrer"},
		{name: "one bad and one good signature", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignClassic(t, repo, img.Digest, img.Digest, signtest.NewKeySigner(t))
			signtest.SignClassic(t, repo, img.Digest, img.Digest, key)
		}, wantMsg: key.PubPath},
		{name: "unsigned", wantErr: ErrNoSignatures, wantMsg: "no signatures found"},
		{name: "another key", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignClassic(t, repo, img.Digest, img.Digest, signtest.NewKeySigner(t))
		}, wantErr: ErrBadSignature, wantMsg: "does not verify with the key"},
		{name: "another key, bundle", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, signtest.NewKeySigner(t))
		}, wantErr: ErrBadSignature, wantMsg: "DSSE envelope does not verify"},
		{name: "signature of another digest under this image's tag", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignClassic(t, repo, img.Digest, otherDigest(t), key)
		}, wantErr: ErrBadSignature, wantMsg: "another digest"},
		{name: "bundle about another image", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, otherDigest(t), key)
		}, wantErr: ErrBadSignature, wantMsg: "about another image"},
		{name: "signatures of another image only", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			other := signtest.Push(t, repo.Name()+":other", signtest.RandomImage(t))
			signtest.SignClassic(t, repo, other.Digest, other.Digest, key)
		}, wantErr: ErrNoSignatures, wantMsg: "no signatures found"},
		{name: "an attestation bundle is no signature", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			b := signtest.Bundle(t, repo, img.Digest, "https://slsa.dev/provenance/v1", key)
			signtest.PutReferrer(t, repo, img.Digest, signtest.BundleMediaType, signtest.BundleMediaType, b, map[string]string{predicateTypeAnnotation: "https://slsa.dev/provenance/v1"})
		}, wantErr: ErrNoSignatures, wantMsg: "no signatures found"},
		{name: "a bundle of another predicate, unannotated", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			b := signtest.Bundle(t, repo, img.Digest, "https://slsa.dev/provenance/v1", key)
			signtest.PutReferrer(t, repo, img.Digest, signtest.BundleMediaType, signtest.BundleMediaType, b, nil)
		}, wantErr: ErrBadSignature, wantMsg: "not an image signature"},
		{name: "garbage bundle", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.PutReferrer(t, repo, img.Digest, signtest.BundleMediaType, signtest.BundleMediaType, []byte(`{"mediaType": 7}`), nil)
		}, wantErr: ErrBadSignature, wantMsg: "not a sigstore bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSigned(t, tt, verifier) })
	}
}

func TestVerifyWithEd25519Key(t *testing.T) {
	key := signtest.NewEd25519Signer(t)
	runSigned(t, signed{sign: func(t *testing.T, repo name.Repository, img *image.Image) {
		signtest.SignClassic(t, repo, img.Digest, img.Digest, key)
	}, wantMsg: key.PubPath}, func(t *testing.T) *Verifier {
		v, err := NewVerifier(config.Signature{Key: filepath.Base(key.PubPath)}, filepath.Dir(key.PubPath))
		if err != nil {
			t.Fatal(err)
		}
		return v
	})
}

func TestVerifyKeyless(t *testing.T) {
	const (
		identity = `^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/heads/main$`
		san      = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
		issuer   = "https://token.actions.githubusercontent.com"
	)
	ca, rogue := signtest.NewCA(t, "test fulcio"), signtest.NewCA(t, "rogue")
	verifier := func(t *testing.T) *Verifier {
		v, err := NewVerifier(config.Signature{Identity: identity, Issuer: issuer}, "", WithRoots(ca.Root, ca.Inter))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	classic := func(s *signtest.Signer) func(t *testing.T, repo name.Repository, img *image.Image) {
		return func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignClassic(t, repo, img.Digest, img.Digest, s)
		}
	}
	tests := []signed{
		{name: "classic", sign: classic(signtest.NewKeylessSigner(t, ca, san, issuer, signtest.CertOpts{})), wantMsg: san},
		{name: "issuer in the deprecated extension", sign: classic(signtest.NewKeylessSigner(t, ca, san, issuer, signtest.CertOpts{OldIssuerOID: true})), wantMsg: san},
		{name: "bundle", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, signtest.NewKeylessSigner(t, ca, san, issuer, signtest.CertOpts{}))
		}, wantMsg: "sigstore bundle referrer " + san},
		{name: "wrong identity", sign: classic(signtest.NewKeylessSigner(t, ca, "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main", issuer, signtest.CertOpts{})),
			wantErr: ErrBadSignature, wantMsg: "identity"},
		{name: "identity is an email", sign: classic(signtest.NewKeylessSigner(t, ca, "dev@acme.example", issuer, signtest.CertOpts{})),
			wantErr: ErrBadSignature, wantMsg: `identity "dev@acme.example" does not match`},
		{name: "wrong issuer", sign: classic(signtest.NewKeylessSigner(t, ca, san, "https://accounts.google.com", signtest.CertOpts{})),
			wantErr: ErrBadSignature, wantMsg: `OIDC issuer is "https://accounts.google.com"`},
		{name: "untrusted CA", sign: classic(signtest.NewKeylessSigner(t, rogue, san, issuer, signtest.CertOpts{})),
			wantErr: ErrBadSignature, wantMsg: "is not trusted"},
		{name: "untrusted CA, bundle", referrers: true, sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, signtest.NewKeylessSigner(t, rogue, san, issuer, signtest.CertOpts{}))
		}, wantErr: ErrBadSignature, wantMsg: "is not trusted"},
		{name: "expired certificate", sign: classic(signtest.NewKeylessSigner(t, ca, san, issuer, signtest.CertOpts{Expired: true})),
			wantErr: ErrBadSignature, wantMsg: "expired"},
		{name: "signed with a key", sign: classic(signtest.NewKeySigner(t)),
			wantErr: ErrBadSignature, wantMsg: "without a certificate"},
		{name: "certificate of another key", sign: func(t *testing.T, repo name.Repository, img *image.Image) {
			s := signtest.NewKeylessSigner(t, ca, san, issuer, signtest.CertOpts{})
			s.SV = signtest.NewKeySigner(t).SV // signs with a key the certificate does not certify
			signtest.SignClassic(t, repo, img.Digest, img.Digest, s)
		}, wantErr: ErrBadSignature, wantMsg: "does not verify with its certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSigned(t, tt, verifier) })
	}
}

// TestVerifyIndexSignature: a signature of the multi-platform index a reference names counts
// for the platform image Resolve picks from it.
func TestVerifyIndexSignature(t *testing.T) {
	key := signtest.NewKeySigner(t)
	host := signtest.StartRegistry(t, false)
	plat, err := mutate.ConfigFile(signtest.RandomImage(t), &v1.ConfigFile{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: plat, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, err := name.ParseReference(host + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	img := signtest.Resolve(t, "registry:"+ref.String())
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest == idxDigest {
		t.Fatal("resolve returned the index, not the platform image")
	}
	signtest.SignClassic(t, ref.Context(), idxDigest, idxDigest, key)
	v, err := NewVerifier(config.Signature{Key: key.PubPath}, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Verified) != 1 || res.Verified[0].Subject != idxDigest {
		t.Errorf("verified %+v, want one signature of index %s", res.Verified, idxDigest)
	}
}

func TestVerifyOtherTransports(t *testing.T) {
	key := signtest.NewKeySigner(t)
	v, err := NewVerifier(config.Signature{Key: key.PubPath}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("daemon", func(t *testing.T) {
		img := &image.Image{Ref: "docker:app:1", Transport: image.Daemon, Digest: otherDigest(t)}
		_, err := v.Verify(context.Background(), img)
		if !errors.Is(err, ErrNoRegistry) || !errors.Is(err, ErrNotVerified) {
			t.Fatalf("err = %v, want ErrNoRegistry", err)
		}
		if !strings.Contains(err.Error(), "registry:HOST/REPO@"+img.Digest.String()) {
			t.Errorf("%q does not say how to fix it", err)
		}
	})
	t.Run("oci layout with a bundle referrer", func(t *testing.T) {
		dir, img := layoutWith(t, signtest.RandomImage(t), func(subject v1.Hash) ([]byte, string) {
			return signtest.Bundle(t, name.MustParseReference("local/app").Context(), subject, signPredicateType, key), signtest.BundleMediaType
		})
		got := signtest.Resolve(t, "oci-dir:"+dir+"@"+img.String())
		if got.Digest != img {
			t.Fatalf("resolved %s, want %s", got.Digest, img)
		}
		res, err := v.Verify(context.Background(), got)
		if err != nil {
			t.Fatal(err)
		}
		if res.Where != "OCI layout "+dir || len(res.Verified) != 1 {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("oci layout unsigned", func(t *testing.T) {
		dir, _ := layoutWith(t, signtest.RandomImage(t), nil)
		_, err := v.Verify(context.Background(), signtest.Resolve(t, "oci-dir:"+dir))
		if !errors.Is(err, ErrNoSignatures) {
			t.Fatalf("err = %v, want ErrNoSignatures", err)
		}
	})
}

// layoutWith writes img into an OCI layout, with a referrer of it when attach is not nil (the
// referrer's content, and its artifact and layer media type), and returns the layout directory
// and img's digest.
func layoutWith(t *testing.T, img v1.Image, attach func(subject v1.Hash) (content []byte, mediaType string)) (string, v1.Hash) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if attach == nil {
		return dir, d
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	subject := v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}
	content, typ := attach(d)
	layer := static.NewLayer(content, types.MediaType(typ))
	m, cfg := signtest.ReferrerManifest(t, subject, typ, layer, nil)
	for _, l := range []v1.Layer{cfg, layer} {
		h, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteBlob(h, rc); err != nil {
			t.Fatal(err)
		}
	}
	h, sz, err := v1.SHA256(bytes.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(m))); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: sz, ArtifactType: typ}); err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func TestNewVerifier(t *testing.T) {
	dir := t.TempDir()
	ca := signtest.NewCA(t, "test")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootsPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{ca.Inter, ca.Root})
	if err != nil {
		t.Fatal(err)
	}
	rootFile := write("roots.pem", rootsPEM)
	interOnly, _ := cryptoutils.MarshalCertificateToPEM(ca.Inter)
	interFile := write("inter.pem", interOnly)
	notPEM := write("cosign.pub", []byte("not a key"))

	tests := []struct {
		name    string
		s       config.Signature
		env     string
		wantNil bool
		wantErr string
	}{
		{name: "nothing configured", wantNil: true},
		{name: "missing key file", s: config.Signature{Key: "nope.pub"}, wantErr: "no such file"},
		{name: "key file is not PEM", s: config.Signature{Key: notPEM}, wantErr: "not a PEM public key"},
		{name: "keyless without roots", s: config.Signature{Identity: ".*", Issuer: "x"}, wantErr: RootFileEnv},
		{name: "keyless with roots from the environment", s: config.Signature{Identity: ".*", Issuer: "x"}, env: rootFile},
		{name: "keyless with an intermediate only", s: config.Signature{Identity: ".*", Issuer: "x"}, env: interFile, wantErr: "no self-signed root"},
		{name: "keyless with a missing root file", s: config.Signature{Identity: ".*", Issuer: "x"}, env: filepath.Join(dir, "none.pem"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RootFileEnv, tt.env)
			v, err := NewVerifier(tt.s, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (v == nil) != tt.wantNil {
				t.Errorf("verifier = %v, want nil: %v", v, tt.wantNil)
			}
		})
	}
}

// TestVerifyWithKeychain: signatures in a registry that wants credentials are read with the
// keychain given, and an error never shows the password.
func TestVerifyWithKeychain(t *testing.T) {
	const user, password = "ci", "s3cret-pa55word"
	var locked atomic.Bool
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); locked.Load() && (!ok || u != user || p != password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	key := signtest.NewKeySigner(t)
	img := signtest.Push(t, host+"/app:1", signtest.RandomImage(t))
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	signtest.SignClassic(t, repo, img.Digest, img.Digest, key)
	locked.Store(true)

	kc := staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: password})}
	v, err := NewVerifier(config.Signature{Key: key.PubPath}, "", WithKeychain(kc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), img); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	wrong := staticKeychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: "wrong-" + password})}
	v, err = NewVerifier(config.Signature{Key: key.PubPath}, "", WithKeychain(wrong))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), img)
	if err == nil || errors.Is(err, ErrNotVerified) {
		t.Fatalf("with wrong credentials: err = %v, want a could-not-tell error", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the error shows the password: %v", err)
	}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }
