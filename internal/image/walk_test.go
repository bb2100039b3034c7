package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// twoLayers is an image whose second layer deletes a file (.wh.) and empties a directory
// (.wh..wh..opq) of the first, with links of every kind.
func twoLayers(t testing.TB) v1.Image {
	return buildImage(t, v1.Config{Cmd: []string{"/app"}},
		layerOf(t,
			dir("a/"), file("a/keep", "k"), file("a/gone", "g"), symlink("a/dangling", "gone"),
			dir("opq/"), file("opq/old", "o"), dir("opq/sub/"), file("opq/sub/old2", "o2"),
			dir("etc/"), file("etc/real", "real"), symlink("etc/link", "real"), hardlink("etc/hard", "etc/real"),
			symlink("dirlink", "/a"), symlink("up", "../../../etc/real"),
			symlink("loop1", "loop2"), symlink("loop2", "/loop1"),
		),
		layerOf(t, file("a/.wh.gone", ""), file("opq/.wh..wh..opq", ""), file("opq/new", "n")),
	)
}

func TestWalkHonoursWhiteouts(t *testing.T) {
	img := resolveImage(t, twoLayers(t))
	var names []string
	err := img.Walk(t.Context(), func(hdr *tar.Header, r io.Reader) error {
		names = append(names, hdr.Name)
		if hdr.Name == "/etc/hard" && hdr.Linkname != "/etc/real" {
			t.Errorf("hard link /etc/hard → %q, want /etc/real", hdr.Linkname)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/a/keep", "/a/dangling", "/opq", "/opq/new", "/etc/link", "/etc/hard", "/dirlink"} {
		if !slices.Contains(names, want) {
			t.Errorf("Walk did not give %s; gave %q", want, names)
		}
	}
	for _, n := range names {
		if n == "/a/gone" || n == "/opq/old" || strings.HasPrefix(n, "/opq/sub") || strings.Contains(n, ".wh.") {
			t.Errorf("Walk gave %s, which layer 2 deleted", n)
		}
	}
}

func TestReadFiles(t *testing.T) {
	img := resolveImage(t, twoLayers(t))
	got, err := img.ReadFiles(t.Context(),
		"/a/keep", "/a/gone", "/opq/old", "/opq/sub/old2", "/opq/new", "/etc/link", "/dirlink/keep",
		"/etc/hard", "/a/dangling", "/a", "/nope", "etc/real", "/etc/../etc/real", "/up", "/loop1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/a/keep": "k", "/opq/new": "n", "/etc/link": "real", "/dirlink/keep": "k", "/etc/hard": "real",
		"etc/real": "real", "/etc/../etc/real": "real",
		// "/up" points above the root: go-containerregistry's Extract drops such links.
	}
	gotS := map[string]string{}
	for k, v := range got {
		gotS[k] = string(v)
	}
	if !maps.Equal(gotS, want) {
		t.Fatalf("ReadFiles = %q\nwant %q", gotS, want)
	}
}

func TestReadFilesRefusesHugeFiles(t *testing.T) {
	big := strings.Repeat("x", MaxFileSize+1)
	img := resolveImage(t, buildImage(t, v1.Config{}, layerOf(t, file("big", big), file("small", "s"))))
	if got, err := img.ReadFiles(t.Context(), "/small"); err != nil || string(got["/small"]) != "s" {
		t.Fatalf("ReadFiles(/small) = %q, %v", got, err)
	}
	_, err := img.ReadFiles(t.Context(), "/big")
	if err == nil || !strings.Contains(err.Error(), "/big") {
		t.Fatalf("ReadFiles(/big) error = %v, want one naming /big", err)
	}
}

func TestWalkStops(t *testing.T) {
	img := resolveImage(t, twoLayers(t))
	n := 0
	err := img.Walk(t.Context(), func(*tar.Header, io.Reader) error {
		if n++; n == 3 {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Walk with SkipAll at 3: %d entries, %v", n, err)
	}

	boom := errors.New("boom")
	if err := img.Walk(t.Context(), func(*tar.Header, io.Reader) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Walk returned %v, want fn's error", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	n = 0
	err = img.Walk(ctx, func(*tar.Header, io.Reader) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("Walk cancelled in the first entry: %d entries, %v", n, err)
	}
	if _, err := img.Facts(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Facts with a cancelled ctx: %v", err)
	}
}

func TestResolvePath(t *testing.T) {
	links := map[string]string{
		"/bin": "/usr/bin", "/usr/bin/sh": "/usr/bin/dash", "/lib": "/usr/lib",
		"/usr/lib/libssl.so.3": "/lib/libssl.so.3.real", "/a": "/b", "/b": "/a", "/x": "/",
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/etc/os-release", "/etc/os-release", true},
		{"/bin/sh", "/usr/bin/dash", true},
		{"/bin/../lib/libssl.so.3", "/usr/lib/libssl.so.3.real", true},
		{"/x/x/x/bin", "/usr/bin", true},
		{"/../../bin/sh", "/usr/bin/dash", true},
		{"/a/file", "", false},
		{"/", "/", true},
	} {
		got, ok := resolvePath(links, tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("resolvePath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLayerKey(t *testing.T) {
	l1 := layerOf(t, file("a", "1"))
	l2 := layerOf(t, file("b", "2"))
	key := func(img v1.Image) string {
		t.Helper()
		k, err := (&Image{Img: img}).LayerKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(buildImage(t, v1.Config{Cmd: []string{"a"}}, l1, l2))
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("LayerKey = %q", base)
	}
	if k := key(buildImage(t, v1.Config{Cmd: []string{"b"}, User: "nobody"}, l1, l2)); k != base {
		t.Errorf("same layers, other config: key %s, want %s", k, base)
	}
	if k := key(buildImage(t, v1.Config{}, l2, l1)); k == base {
		t.Errorf("layers reordered: key unchanged")
	}
	if k := key(buildImage(t, v1.Config{}, l1)); k == base {
		t.Errorf("a layer fewer: key unchanged")
	}
	// Resolve's Config gives the same key as the image's own config.
	if k, err := resolveImage(t, buildImage(t, v1.Config{}, l1, l2)).LayerKey(); err != nil || k != base {
		t.Errorf("resolved image: key %s, %v; want %s", k, err, base)
	}
}
