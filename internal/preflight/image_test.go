package preflight

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

func TestSignature(t *testing.T) {
	host := signtest.StartRegistry(t, false)
	signer := signtest.NewKeySigner(t)
	v, err := sign.NewVerifier(config.Signature{Key: signer.PubPath}, ".")
	if err != nil {
		t.Fatal(err)
	}
	signed := signtest.Push(t, host+"/app:signed", signtest.RandomImage(t))
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	signtest.SignClassic(t, repo, signed.Digest, signed.Digest, signer)
	unsigned := signtest.Push(t, host+"/app:unsigned", signtest.RandomImage(t))
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		verifier *sign.Verifier
		signed   bool
		required bool
		want     check.Status
	}{
		{"signed", v, true, true, check.StatusPass},
		{"unsigned, required", v, false, true, check.StatusFail},
		{"unsigned, optional", v, false, false, check.StatusWarn},
		{"no policy", nil, false, true, check.StatusSkipped},
	} {
		img := unsigned
		if tc.signed {
			img = signed
		}
		if r := Signature(ctx, img, tc.verifier, tc.required); r.Status != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, r.Status, r.Message, tc.want)
		}
	}
}
