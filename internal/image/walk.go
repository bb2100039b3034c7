package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// MaxFileSize is the largest file ReadFiles reads.
const MaxFileSize = 8 << 20

// maxLinkHops bounds the symbolic links followed for one path.
const maxLinkHops = 40

// content returns the image to read layers from, with blob reads bound to ctx where the
// transport allows it.
func (i *Image) content(ctx context.Context) (v1.Image, error) {
	if i.reopen != nil {
		img, err := i.reopen(ctx)
		if err != nil {
			return nil, at(i.Ref, err)
		}
		return img, nil
	}
	if i.Img == nil {
		return nil, fmt.Errorf("image %s: no image content", redactRef(i.Ref))
	}
	return i.Img, nil
}

// Walk calls fn for every entry of the image's flattened filesystem: the layers applied in
// order, whiteouts and opaque directories honoured, each path once, the top layer's version.
// hdr.Name is absolute and clean ("/etc/os-release"); so is hdr.Linkname of a hard link, while
// a symbolic link's Linkname is as written. r reads the entry's content and is valid only
// during the call. Walk stops without error when fn returns fs.SkipAll, and with ctx's error
// when ctx ends.
func (i *Image) Walk(ctx context.Context, fn func(hdr *tar.Header, r io.Reader) error) error {
	img, err := i.content(ctx)
	if err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	// Closing the pipe unblocks a read in progress and ends the extracting goroutine.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// mutate.Extract writes the tar footer (a deferred Close) before it closes the pipe
			// with its error, so a layer that cannot be read looks like the end of a clean,
			// shorter filesystem. The pipe's own end tells the two apart.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("image %s: %w", redactRef(i.Ref), ctx.Err())
				}
				return at(i.Ref, fail(nil, "reading the filesystem", err, i.secrets...))
			}
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("image %s: %w", redactRef(i.Ref), ctx.Err())
			}
			return at(i.Ref, fail(nil, "reading the filesystem", err, i.secrets...))
		}
		if ctx.Err() != nil {
			return fmt.Errorf("image %s: %w", redactRef(i.Ref), ctx.Err())
		}
		hdr.Name = absPath(hdr.Name)
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = absPath(hdr.Linkname)
		}
		if err := fn(hdr, tr); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("image %s: %w", redactRef(i.Ref), ctx.Err())
			}
			return err
		}
	}
}

// ReadFiles returns the content of the named files, keyed by the paths as given. Paths are
// absolute; symbolic and hard links inside the image are followed. A path that does not exist,
// is not a regular file, or whose links loop is absent from the map; a file larger than
// MaxFileSize is an error. It walks the image once, or twice when a path leads through a link
// to a file that was not itself asked for.
func (i *Image) ReadFiles(ctx context.Context, paths ...string) (map[string][]byte, error) {
	links := map[string]string{} // path → absolute target, every link in the image
	got, err := i.collect(ctx, wantSet(paths...), links)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	need := map[string]bool{}
	for _, p := range paths {
		c, ok := resolvePath(links, absPath(p))
		if !ok {
			continue
		}
		if b, ok := got[c]; ok {
			out[p] = b
		} else if c != absPath(p) {
			need[c] = true
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	more, err := i.collect(ctx, need, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if c, ok := resolvePath(links, absPath(p)); ok && more[c] != nil {
			out[p] = more[c]
		}
	}
	return out, nil
}

// collect walks the image once, reading the regular files in want and, when links is not nil,
// recording every link.
func (i *Image) collect(ctx context.Context, want map[string]bool, links map[string]string) (map[string][]byte, error) {
	got := map[string][]byte{}
	err := i.Walk(ctx, func(hdr *tar.Header, r io.Reader) error {
		if links != nil {
			recordLink(links, hdr)
		}
		if !want[hdr.Name] || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		if hdr.Size > MaxFileSize {
			return fmt.Errorf("image %s: %s is %d bytes, more than ReadFiles reads (%d)", redactRef(i.Ref), hdr.Name, hdr.Size, MaxFileSize)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("image %s: reading %s: %w", redactRef(i.Ref), hdr.Name, err)
		}
		got[hdr.Name] = b
		return nil
	})
	return got, err
}

// recordLink notes a symbolic or hard link, with its target made absolute.
func recordLink(links map[string]string, hdr *tar.Header) {
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		t := hdr.Linkname
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(hdr.Name), t)
		}
		links[hdr.Name] = path.Clean(t)
	case tar.TypeLink:
		links[hdr.Name] = hdr.Linkname
	}
}

func wantSet(paths ...string) map[string]bool {
	want := map[string]bool{}
	for _, p := range paths {
		want[absPath(p)] = true
	}
	return want
}

// absPath cleans an archive or user path into an absolute one ("./etc/x" → "/etc/x").
func absPath(p string) string { return path.Clean("/" + p) }

// resolvePath follows the links (path → absolute target) along every component of the absolute
// path p. ok is false when links loop.
func resolvePath(links map[string]string, p string) (string, bool) {
	return ResolvePath(p, func(q string) (string, bool) { t, ok := links[q]; return t, ok })
}

// ResolvePath follows links along every component of the absolute path p, as the kernel would
// inside an image's root filesystem. link reports whether the absolute path q is a link and
// its absolute target. ok is false when the links loop (more than 40 hops, the kernel's limit).
func ResolvePath(p string, link func(q string) (target string, isLink bool)) (resolved string, ok bool) {
	resolved = "/"
	rest := strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, c)
		target, isLink := link(next)
		if !isLink {
			resolved = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", false
		}
		rest = append(strings.Split(target, "/"), rest...)
		resolved = "/"
	}
	return resolved, true
}

// LayerKey is a stable cache key for results derived from the image's layers alone (packages,
// files, vulnerabilities): "sha256:" and the hex SHA-256 of the ordered layer diffIDs, one per
// line. It depends on the uncompressed layers only, so an image rebuilt with the same layers
// but another config, or read through another transport (a daemon recompresses layers), gets
// the same key; a change of any layer or of their order changes it.
func (i *Image) LayerKey() (string, error) {
	cf := i.Config
	if cf == nil {
		if i.Img == nil {
			return "", fmt.Errorf("image %s: no config", redactRef(i.Ref))
		}
		var err error
		if cf, err = i.Img.ConfigFile(); err != nil {
			return "", fmt.Errorf("image %s: reading config: %w", redactRef(i.Ref), err)
		}
	}
	h := sha256.New()
	for _, d := range cf.RootFS.DiffIDs {
		io.WriteString(h, d.String()+"\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
