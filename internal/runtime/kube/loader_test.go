package kube

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestLoader(t *testing.T) {
	reg, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := reg.Digest()
	dd, _ := daemon.Digest()
	l := NewLoader(Source{Ref: "127.0.0.1:5000/app:1", Repository: "127.0.0.1:5000/app", Digest: rd},
		Source{Ref: "app:2", From: "docker", Digest: dd})
	ctx := t.Context()
	if ref, err := l.Ensure(ctx, reg, "tag"); err != nil || ref != "127.0.0.1:5000/app@"+rd.String() {
		t.Errorf("Ensure(registry image) = %q, %v; want the repository at its digest", ref, err)
	}
	_, err = l.Ensure(ctx, daemon, "")
	if !errors.Is(err, ErrNotPullable) || !strings.Contains(err.Error(), "app:2 was read from docker") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Ensure(daemon image): %v; want one line naming the image and where it came from", err)
	}
	if _, err := l.Ensure(ctx, other, ""); !errors.Is(err, ErrNotPullable) {
		t.Errorf("Ensure(an image not of the run): %v", err)
	}
}
