package harden

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/plimsoll/plimsoll/internal/image"
)

// capabilityRecord is the PAX record a layer tar carries a file's capabilities in.
const capabilityRecord = "SCHILY.xattr.security.capability"

// maxAccountFile bounds what is read of /etc/passwd and /etc/group.
const maxAccountFile = 1 << 20

// fsScan is what the filesystem checks need of one image, read in one walk.
type fsScan struct {
	// links maps every symbolic and hard link to its absolute target.
	links map[string]string
	// files are the regular files, with their modes.
	files map[string]fs.FileMode
	// special are the setuid and setgid files, world-writable entries and files with capabilities.
	setid, writable, caps []entry
	// passwd and group are /etc/passwd and /etc/group, nil when absent.
	passwd, group []byte
}

// entry is one file the checks report.
type entry struct {
	Path string `json:"path"`
	// Mode is as ls shows it ("-rwsr-xr-x").
	Mode     string `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	TypeName string `json:"type,omitempty"`
	// Caps are the file capabilities, as getcap shows them ("cap_net_bind_service=ep").
	Caps string `json:"capabilities,omitempty"`
}

// scans walks each image once per run and shares the result between the checks.
type scans struct {
	mu sync.Mutex
	m  map[*image.Image]*fsScan
}

func newScans() *scans { return &scans{m: map[*image.Image]*fsScan{}} }

// get returns img's scan, walking it the first time.
func (s *scans) get(ctx context.Context, img *image.Image) (*fsScan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.m[img]; ok {
		return sc, nil
	}
	sc, err := scan(ctx, img)
	if err != nil {
		return nil, err
	}
	s.m[img] = sc
	return sc, nil
}

// scan walks img's flattened filesystem once.
func scan(ctx context.Context, img *image.Image) (*fsScan, error) {
	sc := &fsScan{links: map[string]string{}, files: map[string]fs.FileMode{}}
	err := img.Walk(ctx, func(hdr *tar.Header, r io.Reader) error {
		return sc.visit(hdr, r)
	})
	if err != nil {
		return nil, fmt.Errorf("read the filesystem of %s: %w", img.Ref, err)
	}
	return sc, nil
}

func (sc *fsScan) visit(hdr *tar.Header, r io.Reader) error {
	mode := hdr.FileInfo().Mode()
	e := entry{Path: hdr.Name, Mode: mode.String(), UID: hdr.Uid, GID: hdr.Gid}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		t := hdr.Linkname
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(hdr.Name), t)
		}
		sc.links[hdr.Name] = path.Clean(t)
		return nil // a symbolic link's own mode means nothing
	case tar.TypeLink:
		sc.links[hdr.Name] = hdr.Linkname
		e.TypeName = "hard link"
	case tar.TypeReg:
		sc.files[hdr.Name] = mode
		if err := sc.readAccounts(hdr, r); err != nil {
			return err
		}
	case tar.TypeDir:
		e.TypeName = "directory"
	default:
		return nil // devices, FIFOs: not files an image should ship, and not what these checks judge
	}
	if hdr.Typeflag != tar.TypeDir && mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		sc.setid = append(sc.setid, e)
	}
	if mode.Perm()&0o002 != 0 && !underTmp(hdr.Name) && !(hdr.Typeflag == tar.TypeDir && mode&fs.ModeSticky != 0) {
		sc.writable = append(sc.writable, e)
	}
	if raw, ok := hdr.PAXRecords[capabilityRecord]; ok {
		e.Caps = formatCaps([]byte(raw))
		sc.caps = append(sc.caps, e)
	}
	return nil
}

// readAccounts keeps /etc/passwd and /etc/group.
func (sc *fsScan) readAccounts(hdr *tar.Header, r io.Reader) error {
	var dst *[]byte
	switch hdr.Name {
	case "/etc/passwd":
		dst = &sc.passwd
	case "/etc/group":
		dst = &sc.group
	default:
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxAccountFile))
	if err != nil {
		return fmt.Errorf("read %s: %w", hdr.Name, err)
	}
	*dst = b
	return nil
}

// underTmp reports whether p is /tmp, /var/tmp or inside them: world-writable by design.
func underTmp(p string) bool {
	for _, d := range []string{"/tmp", "/var/tmp"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// resolve follows links along every component of the absolute path p, as the kernel would
// inside the image's root. ok is false when the links loop.
func (sc *fsScan) resolve(p string) (string, bool) {
	return image.ResolvePath(p, func(q string) (string, bool) { t, ok := sc.links[q]; return t, ok })
}

// regular returns the regular file p leads to, "" when it leads to none.
func (sc *fsScan) regular(p string) string {
	r, ok := sc.resolve(p)
	if !ok {
		return ""
	}
	if _, isFile := sc.files[r]; !isFile {
		return ""
	}
	return r
}
