package kube

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrNotPullable reports an image a cluster cannot run: its nodes pull images from
// registries, and this one was read from somewhere else (a Docker daemon, an archive, a
// layout) or is not one of the run's images.
var ErrNotPullable = errors.New("a cluster runs only images its nodes pull from a registry")

// Source is one image of a run and where it was read from.
type Source struct {
	// Ref is the reference as the user wrote it, for messages.
	Ref string
	// Repository is the registry repository the image was read from ("registry.example/app"),
	// "" when it was not read from a registry.
	Repository string
	// From names where a non-registry image was read from ("docker", "docker-archive"…).
	From string
	// Digest is the image's manifest digest.
	Digest v1.Hash
}

// Loader gives the checks the reference a node pulls an image of the run by: its registry
// repository at the digest Layer 1 read, so the pods run exactly what was inspected. It
// implements the checks' image loader for the pod runtime; nothing is pushed.
type Loader struct {
	sources []Source
}

// NewLoader returns a loader for the run's images.
func NewLoader(sources ...Source) *Loader { return &Loader{sources: sources} }

// Ensure returns "repository@digest" for img, or an error wrapping ErrNotPullable. The ref
// argument (a tag to give a loaded image) has no meaning for a registry and is ignored.
func (l *Loader) Ensure(_ context.Context, img v1.Image, _ string) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image digest: %w", err)
	}
	for _, s := range l.sources {
		if s.Digest != d {
			continue
		}
		if s.Repository == "" {
			return "", fmt.Errorf("%w: %s was read from %s; give it as a registry reference", ErrNotPullable, s.Ref, s.From)
		}
		return s.Repository + "@" + d.String(), nil
	}
	return "", fmt.Errorf("%w: image %s is not one of the run's registry images", ErrNotPullable, d)
}
