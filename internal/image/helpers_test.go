package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one tar entry of a test layer; a regular file unless typ says otherwise.
type entry struct {
	name, body, link string
	typ              byte
}

func dir(name string) entry             { return entry{name: name, typ: tar.TypeDir} }
func file(name, body string) entry      { return entry{name: name, body: body} }
func symlink(name, target string) entry { return entry{name: name, link: target, typ: tar.TypeSymlink} }
func hardlink(name, target string) entry {
	return entry{name: name, link: target, typ: tar.TypeLink}
}

// layerOf builds an uncompressed layer from entries, in memory.
func layerOf(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}
		switch e.typ {
		case 0:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
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

// buildImage stacks layers into an image with the given config.
func buildImage(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayout writes images into a new OCI layout at dir, each annotated with its tag ("" for none).
func writeLayout(t testing.TB, dir string, tagged map[string]v1.Image) {
	t.Helper()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range tagged {
		var opts []layout.Option
		if tag != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{refNameAnnotation: tag}))
		}
		if err := lp.AppendImage(img, opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// resolveImage writes img into a fresh OCI layout and resolves it from there.
func resolveImage(t testing.TB, img v1.Image) *Image {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "img")
	writeLayout(t, dir, map[string]v1.Image{"": img})
	got, err := Resolve(context.Background(), "oci-dir:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
