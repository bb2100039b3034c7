package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestCachedFactsReadsNoLayerTheSecondTime(t *testing.T) {
	ctx := context.Background()
	img := buildImage(t, v1.Config{User: "app", Entrypoint: []string{"/app"}},
		layerOf(t, dir("etc"), file("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
			dir("lib"), file("lib/ld-musl-x86_64.so.1", "")))
	root := filepath.Join(t.TempDir(), "img")
	writeLayout(t, root, map[string]v1.Image{"": img})
	cache := t.TempDir()

	first, err := Resolve(ctx, "oci-dir:"+root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := first.CachedFacts(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	if want.OSID != "alpine" || want.Libc != "musl" || want.User != "app" {
		t.Fatalf("facts = %+v", want)
	}

	// Spoil the layers (the blobs are there, but unreadable): only the cache can answer now.
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if err := os.WriteFile(filepath.Join(root, "blobs", d.Algorithm, d.Hex), []byte("not a layer"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Resolve(ctx, "oci-dir:"+root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := again.Facts(ctx); err == nil {
		entries, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
		t.Fatalf("Facts read an image whose layers are spoilt (%+v, %d blobs): the test proves nothing", f, len(entries))
	}
	got, err := again.CachedFacts(ctx, cache)
	if err != nil {
		t.Fatalf("second CachedFacts read layers: %v", err)
	}
	if got.OSID != want.OSID || got.OSVersionID != want.OSVersionID || got.Libc != want.Libc || got.User != want.User {
		t.Errorf("cached facts = %+v, want %+v", got, want)
	}

	// Same layers, another config: the config's facts are the image's own.
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.User, cf.Config.Entrypoint = "root", []string{"/other"}
	img2, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	other := resolveImage(t, img2)
	f2, err := other.CachedFacts(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	if f2.User != "root" || len(f2.Entrypoint) != 1 || f2.Entrypoint[0] != "/other" || f2.OSID != "alpine" {
		t.Errorf("facts of the rebuilt image = %+v", f2)
	}
}

// TestCachedFactsConfirmsLayers: a cache hit reads no layer, but a layer blob that is gone makes
// the image unreadable, on a warm cache as on a cold one.
func TestCachedFactsConfirmsLayers(t *testing.T) {
	ctx := context.Background()
	img := buildImage(t, v1.Config{},
		layerOf(t, dir("etc"), file("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n")),
		layerOf(t, dir("lib"), file("lib/ld-musl-x86_64.so.1", "")))
	root := filepath.Join(t.TempDir(), "img")
	writeLayout(t, root, map[string]v1.Image{"": img})
	cache := t.TempDir()
	warm, err := Resolve(ctx, "oci-dir:"+root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.CachedFacts(ctx, cache); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[1].Digest()
	if err := os.Remove(filepath.Join(root, "blobs", d.Algorithm, d.Hex)); err != nil {
		t.Fatal(err)
	}
	again, err := Resolve(ctx, "oci-dir:"+root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, cacheDir := range map[string]string{"cold": t.TempDir(), "warm": cache} {
		_, err := again.CachedFacts(ctx, cacheDir)
		if err == nil {
			t.Errorf("%s cache: facts of an image missing layer %s, want an error", name, d)
			continue
		}
		if name == "warm" && (!errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), d.String()) || !strings.HasPrefix(err.Error(), "oci-dir:"+root+": ")) {
			t.Errorf("warm cache: err = %v, want ErrUnreadable naming the image and the layer", err)
		}
	}
}
