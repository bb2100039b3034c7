package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// factsCacheVersion changes whenever what Facts reads from the filesystem changes, so a cache
// written by an older plimsoll is not trusted.
const factsCacheVersion = "1"

// CachedFacts is Facts with the filesystem-derived part kept in dir, keyed by LayerKey: a rerun
// on an image with the same layers reads no layer. User, Entrypoint and Cmd always come from the
// image's own config, which may differ between images that share their layers. A hit still
// confirms that every layer blob exists (ConfirmLayers), so that a cache never hides a missing
// blob. dir "" reads through. A cache file that cannot be read or written is passed over,
// never an error.
func (i *Image) CachedFacts(ctx context.Context, dir string) (Facts, error) {
	if dir == "" {
		return i.Facts(ctx)
	}
	key, err := i.LayerKey()
	if err != nil {
		return Facts{}, err
	}
	file := filepath.Join(dir, "facts-v"+factsCacheVersion+"-"+strings.TrimPrefix(key, "sha256:")+".json")
	var f Facts
	if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &f) == nil {
		if err := i.ConfirmLayers(ctx); err != nil {
			return Facts{}, err
		}
		return i.withConfig(f)
	}
	if f, err = i.Facts(ctx); err != nil {
		return Facts{}, err
	}
	if b, err := json.Marshal(f); err == nil && os.MkdirAll(dir, 0o755) == nil {
		tmp := file + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, file)
		}
	}
	return f, nil
}

// withConfig sets the config-derived facts from the image's own config.
func (i *Image) withConfig(f Facts) (Facts, error) {
	cf := i.Config
	if cf == nil {
		var err error
		if cf, err = i.Img.ConfigFile(); err != nil {
			return Facts{}, fmt.Errorf("image %s: reading config: %w", redactRef(i.Ref), err)
		}
	}
	f.User, f.Entrypoint, f.Cmd = cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd
	return f, nil
}

// ConfirmLayers confirms that every layer blob of the image exists, without reading one: a
// HEAD per blob to a registry, an open and close of each blob file otherwise. A result cached
// by the layer chain (LayerKey) is used only after it, so that a cache hit answers for an
// image that can be read and never hides a missing blob. Its error wraps ErrUnreadable.
func (i *Image) ConfirmLayers(ctx context.Context) error {
	img, err := i.content(ctx)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return at(i.Ref, fail(ErrUnreadable, "reading layers", err, i.secrets...))
	}
	for n, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := l.Digest()
		if err == nil {
			err = i.confirmBlob(ctx, l, d)
		}
		if err != nil {
			return at(i.Ref, fail(ErrUnreadable, fmt.Sprintf("layer %d of %d (%s) is missing or unreadable", n+1, len(layers), d), err, i.secrets...))
		}
	}
	return nil
}

func (i *Image) confirmBlob(ctx context.Context, l v1.Layer, d v1.Hash) error {
	if i.headBlob != nil {
		return i.headBlob(ctx, d)
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	return rc.Close()
}
