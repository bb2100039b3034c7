package sign

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r/app"},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("a", 64) + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:zz"},"type":"cosign container image signature"}}`))
	f.Add([]byte(`{"critical":{"type":"atomic container signature"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"critical":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _, err := parsePayload(b)
		if err == nil && (h.Algorithm == "" || h.Hex == "") {
			t.Fatalf("accepted %q with an empty digest", b)
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("b", 64) + `"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":null}`))
	f.Add([]byte(`{"_type":"x"}`))
	f.Add([]byte(`[]`))
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStatement(b)
		if err != nil {
			return
		}
		_ = s.names(d)
	})
}

// FuzzVerifyBundle feeds arbitrary bytes to the bundle verifier, with a key and keyless: it
// must never panic and never verify.
func FuzzVerifyBundle(f *testing.F) {
	key := signtest.NewKeySigner(f)
	ca := signtest.NewCA(f, "fuzz")
	kv, err := newKeyVerifier(key.PubPath, "", newOptions(nil))
	if err != nil {
		f.Fatal(err)
	}
	lv, err := newKeylessVerifier(".*", "https://issuer", newOptions([]Option{WithRoots(ca.Root)}))
	if err != nil {
		f.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"AAAA"}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"MIIB"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []*Verifier{kv, lv} {
			if signer, reason := v.verifyBundle(b, d); reason == "" {
				t.Fatalf("verified %q as signed by %s", b, signer)
			}
		}
	})
}
