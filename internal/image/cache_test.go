package image

import (
	"context"
	"os"
	"path/filepath"
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

	// Take the layers away: only the cache can answer now.
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if err := os.Remove(filepath.Join(root, "blobs", d.Algorithm, d.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Resolve(ctx, "oci-dir:"+root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := again.Facts(ctx); err == nil {
		entries, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
		t.Fatalf("Facts read an image whose layers are gone (%+v, %d blobs left): the test proves nothing", f, len(entries))
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
