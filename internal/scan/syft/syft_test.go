package syft

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/source"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// alpinePackages are the apk databases (lib/apk/db/installed) of the Alpine minirootfs
// tarballs: name, version, origin.
var alpinePackages = map[string][][3]string{
	"3.19.4": {
		{"alpine-baselayout", "3.4.3-r2", "alpine-baselayout"}, {"alpine-baselayout-data", "3.4.3-r2", "alpine-baselayout"},
		{"alpine-keys", "2.4-r1", "alpine-keys"}, {"apk-tools", "2.14.4-r0", "apk-tools"},
		{"busybox", "1.36.1-r19", "busybox"}, {"busybox-binsh", "1.36.1-r19", "busybox"},
		{"ca-certificates-bundle", "20240226-r0", "ca-certificates"}, {"libc-utils", "0.7.2-r5", "libc-dev"},
		{"libcrypto3", "3.1.7-r0", "openssl"}, {"libssl3", "3.1.7-r0", "openssl"},
		{"musl", "1.2.4_git20230717-r4", "musl"}, {"musl-utils", "1.2.4_git20230717-r4", "musl"},
		{"scanelf", "1.3.7-r2", "pax-utils"}, {"ssl_client", "1.36.1-r19", "busybox"}, {"zlib", "1.3.1-r0", "zlib"},
	},
	"3.20.3": {
		{"alpine-baselayout", "3.6.5-r0", "alpine-baselayout"}, {"alpine-baselayout-data", "3.6.5-r0", "alpine-baselayout"},
		{"alpine-keys", "2.4-r1", "alpine-keys"}, {"apk-tools", "2.14.4-r0", "apk-tools"},
		{"busybox", "1.36.1-r29", "busybox"}, {"busybox-binsh", "1.36.1-r29", "busybox"},
		{"ca-certificates-bundle", "20240705-r0", "ca-certificates"},
		{"libcrypto3", "3.3.2-r0", "openssl"}, {"libssl3", "3.3.2-r0", "openssl"},
		{"musl", "1.2.5-r0", "musl"}, {"musl-utils", "1.2.5-r0", "musl"},
		{"scanelf", "1.3.7-r2", "pax-utils"}, {"ssl_client", "1.36.1-r29", "busybox"}, {"zlib", "1.3.1-r1", "zlib"},
	},
}

// alpineDiff is what DiffPackages must say of 3.19.4 → 3.20.3.
var alpineDiff = scan.PackageDiff{
	Removed: []scan.PackageChange{{Name: "libc-utils", Type: "apk", OldVersion: "0.7.2-r5", Kind: scan.Removed}},
	Upgraded: []scan.PackageChange{
		{Name: "alpine-baselayout", Type: "apk", OldVersion: "3.4.3-r2", NewVersion: "3.6.5-r0", Kind: scan.Upgraded},
		{Name: "alpine-baselayout-data", Type: "apk", OldVersion: "3.4.3-r2", NewVersion: "3.6.5-r0", Kind: scan.Upgraded},
		{Name: "busybox", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: scan.Upgraded},
		{Name: "busybox-binsh", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: scan.Upgraded},
		{Name: "ca-certificates-bundle", Type: "apk", OldVersion: "20240226-r0", NewVersion: "20240705-r0", Kind: scan.Upgraded},
		{Name: "libcrypto3", Type: "apk", OldVersion: "3.1.7-r0", NewVersion: "3.3.2-r0", Kind: scan.Upgraded, Critical: "openssl"},
		{Name: "libssl3", Type: "apk", OldVersion: "3.1.7-r0", NewVersion: "3.3.2-r0", Kind: scan.Upgraded, Critical: "openssl"},
		{Name: "musl", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: scan.Upgraded, Critical: "libc"},
		{Name: "musl-utils", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: scan.Upgraded, Critical: "libc"},
		{Name: "ssl_client", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: scan.Upgraded},
		{Name: "zlib", Type: "apk", OldVersion: "1.3.1-r0", NewVersion: "1.3.1-r1", Kind: scan.Upgraded},
	},
	Unchanged: 3,
}

// countingImage counts how often the layers of an image are read (opening a blob to confirm
// that it exists, as a cache hit does, is not reading it).
type countingImage struct {
	v1.Image
	opened *atomic.Int64
}

func (c countingImage) Layers() ([]v1.Layer, error) {
	ls, err := c.Image.Layers()
	for i, l := range ls {
		ls[i] = countingLayer{l, c.opened}
	}
	return ls, err
}

func (c countingImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDigest(h)
	return countingLayer{l, c.opened}, err
}

func (c countingImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDiffID(h)
	return countingLayer{l, c.opened}, err
}

type countingLayer struct {
	v1.Layer
	opened *atomic.Int64
}

func (l countingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	return &countingReader{ReadCloser: rc, opened: l.opened}, err
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Uncompressed()
	return &countingReader{ReadCloser: rc, opened: l.opened}, err
}

// countingReader counts one read of a layer at its first Read.
type countingReader struct {
	io.ReadCloser
	opened *atomic.Int64
	read   bool
}

func (r *countingReader) Read(p []byte) (int, error) {
	if !r.read {
		r.read = true
		r.opened.Add(1)
	}
	return r.ReadCloser.Read(p)
}

// alpine returns the Alpine image of version as Resolve returns it from an OCI layout, and a
// counter of its layer reads.
func alpine(t testing.TB, version string) (*image.Image, *atomic.Int64) {
	t.Helper()
	return resolved(t, testenv.AlpineImage(t, version), "alpine:"+version)
}

func resolved(t testing.TB, v v1.Image, tag string) (*image.Image, *atomic.Int64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(v, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	img, err := image.Resolve(context.Background(), "oci-dir:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img.Name = tag
	var n atomic.Int64
	img.Img = countingImage{img.Img, &n}
	return img, &n
}

func apkPackages(version string) []scan.Package {
	var ps []scan.Package
	for _, p := range alpinePackages[version] {
		purl := "pkg:apk/alpine/" + p[0] + "@" + p[1] + "?arch=x86_64&distro=alpine-" + version
		if p[2] != p[0] {
			purl += "&upstream=" + p[2]
		}
		ps = append(ps, scan.Package{Name: p[0], Version: p[1], Type: "apk", Origin: p[2], PURL: purl})
	}
	return ps
}

func TestInventoryAlpine(t *testing.T) {
	ctx := context.Background()
	c := &Cataloger{CacheDir: t.TempDir()}
	invs := map[string]*scan.Inventory{}
	for _, version := range []string{"3.19.4", "3.20.3"} {
		img, _ := alpine(t, version)
		inv, err := c.Inventory(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		invs[version] = inv
		want := scan.Distro{ID: "alpine", VersionID: version, Name: "Alpine Linux v" + version[:4]}
		if inv.Distro != want {
			t.Errorf("%s distro = %+v, want %+v", version, inv.Distro, want)
		}
		if diff := cmp.Diff(apkPackages(version), inv.Packages); diff != "" {
			t.Errorf("%s packages (-want +got):\n%s", version, diff)
		}
		s, err := decodeSyftJSON(inv.SBOM)
		if err != nil {
			t.Fatal(err)
		}
		md, ok := s.Source.Metadata.(source.ImageMetadata)
		if !ok || md.ManifestDigest != img.Digest.String() || s.Source.Name != "alpine" || s.Source.Version != version {
			t.Errorf("%s SBOM subject = %s %s %+v, want alpine %s with digest %s", version, s.Source.Name, s.Source.Version, s.Source.Metadata, version, img.Digest)
		}
	}
	if diff := cmp.Diff(alpineDiff, scan.DiffPackages(invs["3.19.4"], invs["3.20.3"])); diff != "" {
		t.Errorf("DiffPackages(3.19.4, 3.20.3) (-want +got):\n%s", diff)
	}
	if left, _ := filepath.Glob(filepath.Join(c.CacheDir, "layers-*")); len(left) > 0 {
		t.Errorf("unpacked layers left behind: %v", left)
	}
}

func TestInventoryCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img, opened := alpine(t, "3.20.3")

	cold, err := (&Cataloger{CacheDir: dir}).Inventory(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Load() == 0 {
		t.Fatal("a cold inventory read no layer")
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries = %v, want one", entries)
	}

	// the same image again, from a new Cataloger (a rerun of plimsoll): no layer read
	opened.Store(0)
	warm, err := (&Cataloger{CacheDir: dir}).Inventory(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if n := opened.Load(); n != 0 {
		t.Errorf("a cached inventory opened layers %d times", n)
	}
	if diff := cmp.Diff(cold, warm); diff != "" {
		t.Errorf("cached inventory differs (-cold +warm):\n%s", diff)
	}

	// another image with the same layer (a config change only): from the cache, about itself
	v, err := mutate.Config(testenv.AlpineImage(t, "3.20.3"), v1.Config{Cmd: []string{"/bin/sh"}, Labels: map[string]string{"rebuilt": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	relabelled, opened2 := resolved(t, v, "example.com/alpine:relabelled")
	if relabelled.Digest == img.Digest {
		t.Fatal("the relabelled image has the same digest")
	}
	other, err := (&Cataloger{CacheDir: dir}).Inventory(ctx, relabelled)
	if err != nil {
		t.Fatal(err)
	}
	if n := opened2.Load(); n != 0 {
		t.Errorf("an image with cached layers opened layers %d times", n)
	}
	if diff := cmp.Diff(cold.Packages, other.Packages); diff != "" {
		t.Errorf("packages differ (-cold +other):\n%s", diff)
	}
	s, err := decodeSyftJSON(other.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	md := s.Source.Metadata.(source.ImageMetadata)
	if md.ManifestDigest != relabelled.Digest.String() || md.Labels["rebuilt"] != "yes" || s.Source.Name != "example.com/alpine" || s.Source.Version != "relabelled" {
		t.Errorf("SBOM subject = %s %s digest %s labels %v, want the relabelled image %s", s.Source.Name, s.Source.Version, md.ManifestDigest, md.Labels, relabelled.Digest)
	}
	if len(md.Layers) != 1 || md.Layers[0].Digest != relabelled.Config.RootFS.DiffIDs[0].String() {
		t.Errorf("SBOM layers = %+v", md.Layers)
	}

	// a damaged entry is catalogued again and replaced
	if err := os.WriteFile(entries[0], []byte(`{"digest":`), 0o644); err != nil {
		t.Fatal(err)
	}
	opened.Store(0)
	again, err := (&Cataloger{CacheDir: dir}).Inventory(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Load() == 0 {
		t.Error("a damaged cache entry was used")
	}
	if diff := cmp.Diff(cold.Packages, again.Packages); diff != "" {
		t.Errorf("packages differ (-cold +again):\n%s", diff)
	}
	if b, _ := os.ReadFile(entries[0]); !json.Valid(b) {
		t.Error("the damaged cache entry was not replaced")
	}

	// no cache directory: every call catalogues
	opened.Store(0)
	for range 2 {
		if _, err := (&Cataloger{}).Inventory(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	if opened.Load() < 2 {
		t.Errorf("without a cache, two inventories opened layers %d times", opened.Load())
	}
}

func TestInventoryFromDaemon(t *testing.T) {
	testenv.LoadIntoDaemon(t, testenv.AlpineImage(t, "3.19.4"), "plimsoll-test/scan-syft:3.19.4")
	img, err := image.Resolve(context.Background(), "docker:plimsoll-test/scan-syft:3.19.4", image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := (&Cataloger{CacheDir: t.TempDir()}).Inventory(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(apkPackages("3.19.4"), inv.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestInventoryCancelled(t *testing.T) {
	img, opened := alpine(t, "3.19.4")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Cataloger{CacheDir: t.TempDir()}).Inventory(ctx, img); err == nil {
		t.Fatal("Inventory with a cancelled context succeeded")
	}
	if opened.Load() != 0 {
		t.Errorf("a cancelled Inventory opened layers %d times", opened.Load())
	}
}

func TestWriteSBOMs(t *testing.T) {
	img, _ := alpine(t, "3.20.3")
	inv, err := (&Cataloger{}).Inventory(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sboms")
	paths, err := WriteSBOMs(inv, dir, "new")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "new.spdx.json"), filepath.Join(dir, "new.cdx.json")}; !cmp.Equal(paths, want) {
		t.Fatalf("paths = %v, want %v", paths, want)
	}
	var spdx struct {
		SPDXVersion string `json:"spdxVersion"`
		Name        string `json:"name"`
		Packages    []struct {
			Name        string `json:"name"`
			VersionInfo string `json:"versionInfo"`
		} `json:"packages"`
	}
	readJSON(t, paths[0], &spdx)
	if spdx.SPDXVersion != "SPDX-2.3" || !strings.HasPrefix(spdx.Name, "alpine") {
		t.Errorf("SPDX document %q named %q", spdx.SPDXVersion, spdx.Name)
	}
	var cdx struct {
		BOMFormat  string `json:"bomFormat"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	readJSON(t, paths[1], &cdx)
	if cdx.BOMFormat != "CycloneDX" {
		t.Errorf("bomFormat = %q", cdx.BOMFormat)
	}
	found := map[string]string{}
	for _, p := range spdx.Packages {
		found["spdx "+p.Name] = p.VersionInfo
	}
	for _, c := range cdx.Components {
		found["cdx "+c.Name] = c.Version
	}
	for _, p := range apkPackages("3.20.3") {
		for _, f := range []string{"spdx ", "cdx "} {
			if found[f+p.Name] != p.Version {
				t.Errorf("%sSBOM: %s at %q, want %s", f, p.Name, found[f+p.Name], p.Version)
			}
		}
	}

	if _, err := WriteSBOMs(&scan.Inventory{}, dir, "empty"); err == nil {
		t.Error("WriteSBOMs of an inventory without an SBOM succeeded")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestSQLiteDriver: syft's rpm cataloger needs a database/sql driver named "sqlite" for the
// rpmdb of RHEL 8+ and Fedora; this package registers it.
func TestSQLiteDriver(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("select sqlite_version()").Scan(&v); err != nil || v == "" {
		t.Fatalf("sqlite_version() = %q, %v", v, err)
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		p    pkg.Package
		want string
	}{
		{pkg.Package{Name: "libssl3", Metadata: pkg.ApkDBEntry{OriginPackage: "openssl"}}, "openssl"},
		{pkg.Package{Name: "libssl3t64", Metadata: pkg.DpkgDBEntry{Source: "openssl"}}, "openssl"},
		{pkg.Package{Name: "bash", Metadata: pkg.DpkgDBEntry{}}, "bash"},
		{pkg.Package{Name: "openssl-libs", Metadata: pkg.RpmDBEntry{SourceRpm: "openssl-3.0.7-27.el9.src.rpm"}}, "openssl"},
		{pkg.Package{Name: "python3-libs", Metadata: pkg.RpmDBEntry{SourceRpm: "python3.11-3.11.5-1.el9_3.src.rpm"}}, "python3.11"},
		{pkg.Package{Name: "gpg-pubkey", Metadata: pkg.RpmDBEntry{SourceRpm: "(none)"}}, ""},
		{pkg.Package{Name: "lodash", Metadata: pkg.NpmPackage{}}, ""},
	}
	for _, tt := range tests {
		if got := origin(tt.p); got != tt.want {
			t.Errorf("origin(%s) = %q, want %q", tt.p.Name, got, tt.want)
		}
	}
}

// BenchmarkInventoryAlpinePair catalogues both Alpine images: cold with an empty cache, warm
// from the cache the cold run filled.
func BenchmarkInventoryAlpinePair(b *testing.B) {
	ctx := context.Background()
	old, _ := alpine(b, "3.19.4")
	new, _ := alpine(b, "3.20.3")
	pair := func(c *Cataloger) {
		for _, img := range []*image.Image{old, new} {
			if _, err := c.Inventory(ctx, img); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			pair(&Cataloger{CacheDir: b.TempDir()})
		}
	})
	b.Run("warm", func(b *testing.B) {
		c := &Cataloger{CacheDir: b.TempDir()}
		pair(c)
		for b.Loop() {
			pair(c)
		}
	})
}

// TestInventoryCacheConfirmsLayers: a cache hit reads no layer but confirms each exists, so a
// layout whose layer blob was deleted is unreadable on a warm cache as on a cold one.
func TestInventoryCacheConfirmsLayers(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	dir := filepath.Join(t.TempDir(), "layout")
	v := testenv.AlpineImage(t, "3.20.3")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(v); err != nil {
		t.Fatal(err)
	}
	img, err := image.Resolve(ctx, "oci-dir:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Cataloger{CacheDir: cache}).Inventory(ctx, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := v.Layers()
	d, _ := layers[0].Digest()
	if err := os.Remove(filepath.Join(dir, "blobs", d.Algorithm, d.Hex)); err != nil {
		t.Fatal(err)
	}
	again, err := image.Resolve(ctx, "oci-dir:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Cataloger{CacheDir: cache}).Inventory(ctx, again)
	if !errors.Is(err, image.ErrUnreadable) || !strings.Contains(err.Error(), d.Hex) {
		t.Errorf("warm inventory of an image missing layer %s: err = %v, want ErrUnreadable naming the layer", d, err)
	}
}
