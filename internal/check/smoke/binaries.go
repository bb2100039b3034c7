package smoke

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"

	"github.com/plimsoll/plimsoll/internal/image"
)

// entry is what the binaries check needs of one file of the image.
type entry struct {
	typ  byte
	mode int64
	link string // a symbolic link's target as written; a hard link's absolute target
}

// inspectBinaries reads the image's filesystem (so shell-less images work) and says of each
// path whether it is present and executable, symbolic and hard links followed.
func inspectBinaries(ctx context.Context, img *image.Image, paths []string) ([]outcome, error) {
	entries := map[string]entry{}
	err := img.Walk(ctx, func(hdr *tar.Header, _ io.Reader) error {
		entries[hdr.Name] = entry{typ: hdr.Typeflag, mode: hdr.Mode, link: hdr.Linkname}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the filesystem of %s: %w", img.Ref, err)
	}
	out := make([]outcome, len(paths))
	for i, p := range paths {
		out[i] = binaryOutcome(entries, p)
	}
	return out, nil
}

// binaryOutcome says whether p is an executable regular file in entries.
func binaryOutcome(entries map[string]entry, p string) outcome {
	resolved, ok := resolve(entries, path.Clean("/"+p))
	if !ok {
		return fail("symbolic link loop")
	}
	e, found := entries[resolved]
	if found && e.typ == tar.TypeLink {
		resolved = e.link
		e, found = entries[resolved]
	}
	via := ""
	if resolved != path.Clean("/"+p) {
		via = " → " + resolved
	}
	switch {
	case !found && via != "":
		return fail("dangling link%s", via)
	case !found:
		return fail("missing")
	case e.typ == tar.TypeDir:
		return fail("a directory%s", via)
	case e.typ != tar.TypeReg:
		return fail("not a regular file%s", via)
	case e.mode&0o111 == 0:
		return fail("not executable (mode %04o)%s", e.mode&0o7777, via)
	}
	return pass("executable (mode %04o)%s", e.mode&0o7777, via)
}

// resolve follows the symbolic links of entries along every component of the absolute path p,
// as the kernel would inside the image's root. ok is false when links loop.
func resolve(entries map[string]entry, p string) (string, bool) {
	return image.ResolvePath(p, func(q string) (string, bool) {
		e, ok := entries[q]
		if !ok || e.typ != tar.TypeSymlink {
			return "", false
		}
		if path.IsAbs(e.link) {
			return e.link, true
		}
		return path.Join(path.Dir(q), e.link), true
	})
}
