package patches

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
)

// ErrTimeout is returned (wrapped) when a registry did not answer one request in time.
var ErrTimeout = errors.New("registry did not answer in time")

// Registry reads tags and images from any OCI registry through its API, each request bounded
// by Timeout, so a registry that stalls is an error rather than a hang.
type Registry struct {
	// Timeout bounds each request (listing tags, resolving one image); zero or less is
	// config.DefaultPatchTimeout.
	Timeout time.Duration
	// Images says how to reach registries (credentials, plain-HTTP registries).
	Images image.Options
}

// bounded runs f with ctx bounded by the request timeout, and names a timeout as such. The
// context f gets is cancelled only when the timeout fires before f returns: an image that f
// resolved stays readable after it (its layers are fetched later, with that context).
func (r Registry) bounded(ctx context.Context, what string, f func(ctx context.Context) error) error {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = config.DefaultPatchTimeout
	}
	rctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(timeout, func() { cancel(ErrTimeout) })
	err := f(rctx)
	if timer.Stop() && err == nil {
		return nil
	}
	cancel(nil)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && errors.Is(context.Cause(rctx), ErrTimeout):
		return fmt.Errorf("%s: %w after %s", what, ErrTimeout, timeout)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Tags lists the tags of repository repo ("registry.example.com/base/alpine").
func (r Registry) Tags(ctx context.Context, repo string) ([]string, error) {
	var opts []name.Option
	if r.Images.Insecure {
		opts = append(opts, name.Insecure)
	}
	rp, err := name.NewRepository(repo, opts...)
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	kc := r.Images.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	var tags []string
	err = r.bounded(ctx, "list tags of "+repo, func(ctx context.Context) error {
		var err error
		tags, err = remote.List(rp, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithUserAgent("plimsoll"))
		return err
	})
	return tags, err
}

// Resolve reads the image ref ("repo:tag", "repo@digest") from its registry: its digest and
// config. Its layers are read later, with the context of that read.
func (r Registry) Resolve(ctx context.Context, ref string) (*image.Image, error) {
	var img *image.Image
	err := r.bounded(ctx, "resolve "+ref, func(ctx context.Context) error {
		var err error
		img, err = image.Resolve(ctx, string(image.Registry)+":"+ref, r.Images)
		return err
	})
	return img, err
}
