package harden

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
)

// ent is one tar entry of a test layer: a regular file unless typ says otherwise.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	pax              map[string]string
}

func file(name, body string, mode int64) ent { return ent{name: name, body: body, mode: mode} }
func dir(name string, mode int64) ent        { return ent{name: name, typ: tar.TypeDir, mode: mode} }
func symlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeLink, mode: 0o755}
}

// layerOf builds an uncompressed layer from entries, in memory, PAX records included.
func layerOf(t testing.TB, entries ...ent) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, PAXRecords: e.pax}
		if e.typ == 0 {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if e.pax != nil {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf stacks layers into an image with the given config.
func imageOf(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", "amd64", cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// fromLayout writes img into a fresh OCI layout and resolves it from there.
func fromLayout(t testing.TB, img v1.Image) *image.Image {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	got, err := image.Resolve(context.Background(), "oci-dir:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// capsV2 is a version 2 security.capability attribute with the given permitted capabilities,
// effective when eff.
func capsV2(eff bool, permitted ...int) string {
	b := make([]byte, 20)
	magic := uint32(capRevision2)
	if eff {
		magic |= capEffective
	}
	binary.LittleEndian.PutUint32(b, magic)
	var mask uint64
	for _, c := range permitted {
		mask |= 1 << c
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(mask))
	binary.LittleEndian.PutUint32(b[12:], uint32(mask>>32))
	return string(b)
}

// run runs c on a fresh env.
func run(t testing.TB, c check.Check, old, new *image.Image) check.Result {
	t.Helper()
	r, err := c.Run(context.Background(), &check.Env{Old: old, New: new})
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return r
}
