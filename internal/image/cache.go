package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// factsCacheVersion changes whenever what Facts reads from the filesystem changes, so a cache
// written by an older plimsoll is not trusted.
const factsCacheVersion = "1"

// CachedFacts is Facts with the filesystem-derived part kept in dir, keyed by LayerKey: a rerun
// on an image with the same layers reads no layer. User, Entrypoint and Cmd always come from the
// image's own config, which may differ between images that share their layers. dir "" reads
// through. A cache file that cannot be read or written is passed over, never an error.
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
