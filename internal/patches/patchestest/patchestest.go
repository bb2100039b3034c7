// Package patchestest gives the tests of patch governance a real image line to patch: a
// loopback OCI registry (go-containerregistry's, in process on 127.0.0.1), Alpine 3.19 images
// whose package databases differ the way patches do, and an offline grype database with
// advisories against them.
package patchestest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/scan/grype"
	"github.com/plimsoll/plimsoll/internal/scan/syft"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// Line holds the images of the test line.
type Line struct {
	// Old is the real Alpine 3.19.4 minirootfs: busybox 1.36.1-r19, vulnerable to
	// CVE-2099-1002 (high).
	Old v1.Image
	// Patched is Old with busybox at 1.36.1-r30: it fixes CVE-2099-1002 and brings nothing.
	Patched v1.Image
	// Bad is Old with only the busybox package at 1.36.1-r30 (busybox-binsh and ssl_client
	// stay vulnerable) and packages zz-evil and zz-evil-libs added, vulnerable to CVE-2099-1007
	// and CVE-2099-1008 (critical): it fixes one high finding and brings two critical ones.
	Bad v1.Image
	// Next is the real Alpine 3.20.3: another distribution release, never a patch.
	Next v1.Image
}

// Records are the advisories the database holds.
var Records = []grype.Record{
	{ID: "CVE-2099-1002", Namespace: "alpine:3.19", Package: "busybox", FixedIn: "1.36.1-r30", Severity: scan.High},
	{ID: "CVE-2099-1007", Namespace: "alpine:3.19", Package: "zz-evil", FixedIn: "1.1-r0", Severity: scan.Critical},
	{ID: "CVE-2099-1008", Namespace: "alpine:3.19", Package: "zz-evil-libs", FixedIn: "1.1-r0", Severity: scan.Critical},
	{ID: "CVE-2099-1001", Namespace: "alpine:3.20", Package: "musl", FixedIn: "1.2.5-r0", Severity: scan.Critical},
}

const installedPath = "lib/apk/db/installed"

// Images builds the line. With created set, every image carries that creation time (Next a
// day later); without, the images have none, as many registries' images do not.
func Images(t testing.TB, created time.Time) Line {
	t.Helper()
	old := testenv.AlpineImage(t, "3.19.4")
	db := installed(t, testenv.AlpineRootfs(t, "3.19.4"))
	patched := strings.ReplaceAll(db, "V:1.36.1-r19\n", "V:1.36.1-r30\n")
	bad := strings.Replace(db, "P:busybox\nV:1.36.1-r19\n", "P:busybox\nV:1.36.1-r30\n", 1)
	for _, pkg := range []string{"zz-evil", "zz-evil-libs"} {
		bad += "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:" + pkg + "\nV:1.0-r0\nA:x86_64\nS:1\nI:1\nT:a package with a critical hole\nL:MIT\no:" + pkg + "\n\n"
	}
	l := Line{
		Old:     old,
		Patched: withFile(t, old, installedPath, patched),
		Bad:     withFile(t, old, installedPath, bad),
		Next:    testenv.AlpineImage(t, "3.20.3"),
	}
	if !created.IsZero() {
		l.Old = at(t, l.Old, created)
		l.Patched = at(t, l.Patched, created.Add(24*time.Hour))
		l.Bad = at(t, l.Bad, created.Add(24*time.Hour))
		l.Next = at(t, l.Next, created.Add(48*time.Hour))
	}
	return l
}

func at(t testing.TB, img v1.Image, created time.Time) v1.Image {
	t.Helper()
	img, err := mutate.CreatedAt(img, v1.Time{Time: created})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// installed reads the apk database out of an Alpine minirootfs tarball.
func installed(t testing.TB, rootfs string) string {
	t.Helper()
	f, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no %s: %v", rootfs, installedPath, err)
		}
		if strings.TrimPrefix(h.Name, "./") == installedPath {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// withFile returns img with one more layer holding path with content.
func withFile(t testing.TB, img v1.Image, path, content string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Push writes img to ref ("127.0.0.1:port/base/alpine:3.19.1") and returns its digest.
func Push(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// VulnDB builds the grype database of Records in a temporary directory and returns it.
func VulnDB(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := grype.BuildDB(context.Background(), Records, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Vulns returns the Layer 1 scan of an image against the database in dbDir: syft's
// inventory, grype's findings.
func Vulns(dbDir string) func(ctx context.Context, img *image.Image) ([]scan.Finding, error) {
	cat, m := &syft.Cataloger{}, &grype.Matcher{DBDir: dbDir}
	return func(ctx context.Context, img *image.Image) ([]scan.Finding, error) {
		inv, err := cat.Inventory(ctx, img)
		if err != nil {
			return nil, err
		}
		return m.Findings(ctx, inv)
	}
}
