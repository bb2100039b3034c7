package cst

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/plimsoll/plimsoll/internal/image"
)

// maxContent is the largest file a content test reads.
const maxContent = 64 << 20

// maxLinkHops bounds the symbolic links followed for one path, as the kernel's ELOOP does.
const maxLinkHops = 40

// entry is one path of an image's flattened filesystem.
type entry struct {
	typ      byte
	mode     fs.FileMode // as tar.Header.FileInfo().Mode() reports it, which CST prints
	uid, gid int
	link     string // a symbolic link's target as written; a hard link's target, absolute
}

func (e *entry) isDir() bool { return e.typ == tar.TypeDir }

// tree is an image's filesystem by absolute path. Directories that only appear as parents of
// other entries, and the root, are there as root-owned 0755 directories, as the engine
// creates them.
type tree map[string]*entry

// readTree walks img once and records every entry.
func readTree(ctx context.Context, img *image.Image) (tree, error) {
	t := tree{}
	err := img.Walk(ctx, func(hdr *tar.Header, _ io.Reader) error {
		t[hdr.Name] = &entry{typ: hdr.Typeflag, mode: hdr.FileInfo().Mode(), uid: hdr.Uid, gid: hdr.Gid, link: hdr.Linkname}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p := range t {
		for d := path.Dir(p); ; d = path.Dir(d) {
			if _, ok := t[d]; ok {
				break
			}
			t[d] = &entry{typ: tar.TypeDir, mode: fs.ModeDir | 0o755}
			if d == "/" {
				break
			}
		}
	}
	if _, ok := t["/"]; !ok {
		t["/"] = &entry{typ: tar.TypeDir, mode: fs.ModeDir | 0o755}
	}
	return t, nil
}

// lookup resolves p as the kernel would inside the image's root: symbolic links in every
// component but the last are followed, and in the last one too when follow is set. A hard link
// resolves to its target's entry and path. It returns the resolved path and entry, or why
// there is none.
func (t tree) lookup(p string, follow bool) (string, *entry, error) {
	cur := "/"
	rest := strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		e, ok := t[next]
		if !ok {
			return "", nil, fmt.Errorf("%s: %w", next, fs.ErrNotExist)
		}
		last := !moreComponents(rest)
		if e.typ == tar.TypeSymlink && (!last || follow) {
			if hops++; hops > maxLinkHops {
				return "", nil, fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			if path.IsAbs(e.link) {
				cur = "/"
			}
			rest = append(strings.Split(e.link, "/"), rest...)
			continue
		}
		if !last && !e.isDir() {
			return "", nil, fmt.Errorf("%s: not a directory", next)
		}
		cur = next
	}
	e := t[cur]
	if e.typ == tar.TypeLink {
		if target, ok := t[e.link]; ok {
			return e.link, target, nil
		}
	}
	return cur, e, nil
}

// moreComponents reports whether rest still holds a component that names something.
func moreComponents(rest []string) bool {
	for _, c := range rest {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}

// hasShell reports whether /bin/sh is an executable file in the image.
func (t tree) hasShell() bool {
	_, e, err := t.lookup("/bin/sh", true)
	return err == nil && e.mode.IsRegular() && e.mode&0o111 != 0
}

// readContents walks img once more and returns the content of the regular files at the
// resolved paths want; a file larger than maxContent is left out and listed in tooBig.
func readContents(ctx context.Context, img *image.Image, want map[string]bool) (got map[string][]byte, tooBig map[string]int64, err error) {
	got, tooBig = map[string][]byte{}, map[string]int64{}
	if len(want) == 0 {
		return got, tooBig, nil
	}
	err = img.Walk(ctx, func(hdr *tar.Header, r io.Reader) error {
		if !want[hdr.Name] || !hdr.FileInfo().Mode().IsRegular() || hdr.Typeflag == tar.TypeLink {
			return nil
		}
		if hdr.Size > maxContent {
			tooBig[hdr.Name] = hdr.Size
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
		got[hdr.Name] = b
		return nil
	})
	return got, tooBig, err
}

// existence evaluates a file existence test against the tree, as CST's docker driver sees
// the file (`docker cp`: parents resolved, a final symbolic link not followed). imageEnv
// expands $VARS in the path, as CST does.
func existence(t tree, ft FileExistenceTest, imageEnv map[string]string) (passed bool, msg string) {
	p := os.Expand(ft.Path, func(k string) string { return imageEnv[k] })
	_, e, err := t.lookup(p, false)
	if err != nil {
		if ft.ShouldExist {
			return false, fmt.Sprintf("%s should exist but does not (%v)", p, err)
		}
		return true, ""
	}
	if !ft.ShouldExist {
		return false, fmt.Sprintf("%s should not exist but does (%s)", p, e.mode)
	}
	var problems []string
	if ft.Permissions != "" && e.mode.String() != ft.Permissions {
		problems = append(problems, fmt.Sprintf("%s has permissions %s, want %s", p, e.mode, ft.Permissions))
	}
	if ft.IsExecutableBy != "" {
		bits := map[string]fs.FileMode{"owner": 0o100, "group": 0o010, "other": 0o001, "any": 0o111}[ft.IsExecutableBy]
		if e.mode&bits == 0 {
			problems = append(problems, fmt.Sprintf("%s (%s) is not executable by %s", p, e.mode, ft.IsExecutableBy))
		}
	}
	if ft.UID != nil && e.uid != *ft.UID {
		problems = append(problems, fmt.Sprintf("%s is owned by uid %d, want %d", p, e.uid, *ft.UID))
	}
	if ft.GID != nil && e.gid != *ft.GID {
		problems = append(problems, fmt.Sprintf("%s is owned by gid %d, want %d", p, e.gid, *ft.GID))
	}
	return len(problems) == 0, strings.Join(problems, "; ")
}

// contentTarget resolves the file a content test reads (every link followed), or says why
// there is none.
func contentTarget(t tree, ft FileContentTest) (string, error) {
	p, e, err := t.lookup(ft.Path, true)
	switch {
	case err != nil:
		return "", fmt.Errorf("cannot open %s: %w", ft.Path, err)
	case e.isDir():
		return "", fmt.Errorf("cannot read %s: it is a directory, not a file", ft.Path)
	case !e.mode.IsRegular():
		return "", fmt.Errorf("cannot read %s: not a regular file (%s)", ft.Path, e.mode)
	}
	return p, nil
}

// contents checks a file's content against the test's regular expressions, as CST does: each
// expected one must match somewhere, no excluded one may.
func contents(ft FileContentTest, content string) (passed bool, msg string) {
	problems := matchAll("file content", content, ft.ExpectedContents, ft.ExcludedContents)
	return len(problems) == 0, strings.Join(problems, "; ")
}
