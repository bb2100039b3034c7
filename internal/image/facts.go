package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Facts are what the upgrade plan needs to know about an image beyond its tag.
type Facts struct {
	// OSID, OSVersionID and OSPrettyName are os-release's ID, VERSION_ID and PRETTY_NAME
	// ("alpine", "3.20.3", "Alpine Linux v3.20"), from /etc/os-release or /usr/lib/os-release.
	OSID, OSVersionID, OSPrettyName string
	// Libc is "glibc", "musl", or "" when the image has neither (a static or scratch image).
	Libc string
	// LibcVersion is the libc package's version ("1.2.5-r0" from apk's musl, "2.36-9+deb12u7"
	// from dpkg's libc6), else the version in a glibc file name ("2.31" from libc-2.31.so), else "".
	LibcVersion string
	// OpenSSLVersion is the version of the libssl package (apk: libssl3, libssl1.1, openssl;
	// dpkg: libssl3t64, libssl3, libssl1.1, openssl), else the soname's ("3" from libssl.so.3), else "".
	OpenSSLVersion string
	// User, Entrypoint and Cmd are the config's.
	User            string
	Entrypoint, Cmd []string
	// Shells are those of /bin/sh, /bin/bash, /bin/ash and busybox (/bin/busybox,
	// /usr/bin/busybox or /sbin/busybox) that exist, links followed, in that order.
	Shells []string
}

// The packages Facts reads versions of, in order of preference.
var (
	apkLibssl  = []string{"libssl3", "libssl1.1", "openssl"}
	dpkgLibssl = []string{"libssl3t64", "libssl3", "libssl1.1", "openssl"}
	apkWanted  = append([]string{"musl"}, apkLibssl...)
	dpkgWanted = append([]string{"libc6"}, dpkgLibssl...)
)

// maxOSRelease bounds how much of an os-release file is read.
const maxOSRelease = 64 << 10

// Facts reads the image's facts in one pass over its filesystem, reading only the few files it
// needs (os-release, the apk or dpkg database) and the names of the others.
func (i *Image) Facts(ctx context.Context) (Facts, error) {
	cf := i.Config
	if cf == nil {
		if i.Img == nil {
			return Facts{}, fmt.Errorf("image %s: no config", redactRef(i.Ref))
		}
		var err error
		if cf, err = i.Img.ConfigFile(); err != nil {
			return Facts{}, fmt.Errorf("image %s: reading config: %w", redactRef(i.Ref), err)
		}
	}
	s := newFactsScan(redactRef(i.Ref))
	if err := i.Walk(ctx, s.visit); err != nil {
		return Facts{}, err
	}
	f := s.facts()
	f.User, f.Entrypoint, f.Cmd = cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd
	return f, nil
}

// factsScan gathers what Facts needs while the filesystem streams past.
type factsScan struct {
	ref        string                       // the image's, for errors
	osRelease  map[string]map[string]string // path → its assignments
	apk, dpkg  map[string]string            // package → version
	links      map[string]string            // every link: path → absolute target
	binaries   map[string]bool              // files (not links) in the bin directories
	musl       bool                         // a musl loader is there
	glibc      bool                         // a glibc loader or libc.so.6 is there
	glibcFile  string                       // the version in a libc-X.Y.so name
	sslVersion string                       // the highest libssl.so.N soname version
}

func newFactsScan(ref string) *factsScan {
	return &factsScan{
		ref:       ref,
		osRelease: map[string]map[string]string{},
		apk:       map[string]string{},
		dpkg:      map[string]string{},
		links:     map[string]string{},
		binaries:  map[string]bool{},
	}
}

// visit is the Walk callback.
func (s *factsScan) visit(hdr *tar.Header, r io.Reader) error {
	name := hdr.Name
	dir, base := path.Dir(name), path.Base(name)
	recordLink(s.links, hdr)
	if hdr.Typeflag == tar.TypeReg {
		if err := s.read(name, dir, r); err != nil {
			return fmt.Errorf("image %s: reading %s: %w", s.ref, name, err)
		}
	}
	if isBinDir(dir) && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeLink) {
		s.binaries[name] = true
	}
	if isLibDir(dir) {
		s.libFile(base)
	}
	return nil
}

// read parses the regular files Facts reads the content of.
func (s *factsScan) read(name, dir string, r io.Reader) error {
	switch {
	case name == "/etc/os-release" || name == "/usr/lib/os-release":
		m, err := parseOSRelease(io.LimitReader(r, maxOSRelease))
		s.osRelease[name] = m
		return err
	case name == "/lib/apk/db/installed":
		m, err := apkVersions(r, apkWanted...)
		fill(s.apk, m)
		return err
	case name == "/var/lib/dpkg/status" || dir == "/var/lib/dpkg/status.d" && !strings.HasSuffix(name, ".md5sums"):
		m, err := dpkgVersions(r, dpkgWanted...)
		fill(s.dpkg, m)
		return err
	}
	return nil
}

// libFile notes a file name of a library directory.
func (s *factsScan) libFile(base string) {
	switch {
	case strings.HasPrefix(base, "ld-musl-") && strings.HasSuffix(base, ".so.1"):
		s.musl = true
	case strings.HasPrefix(base, "ld-linux") && strings.Contains(base, ".so."), base == "libc.so.6":
		s.glibc = true
	case strings.HasPrefix(base, "libc-") && strings.HasSuffix(base, ".so"):
		if v := strings.TrimSuffix(strings.TrimPrefix(base, "libc-"), ".so"); isDotted(v) {
			s.glibc, s.glibcFile = true, v
		}
	case strings.HasPrefix(base, "libssl.so."):
		if v := strings.TrimPrefix(base, "libssl.so."); isDotted(v) && dottedLess(s.sslVersion, v) {
			s.sslVersion = v
		}
	}
}

// facts turns what was gathered into Facts (without the config's fields).
func (s *factsScan) facts() Facts {
	var f Facts
	osr := s.osRelease[s.canonical("/etc/os-release")]
	if osr == nil {
		osr = s.osRelease[s.canonical("/usr/lib/os-release")]
	}
	f.OSID, f.OSVersionID, f.OSPrettyName = osr["ID"], osr["VERSION_ID"], osr["PRETTY_NAME"]

	switch {
	case s.apk["musl"] != "":
		f.Libc, f.LibcVersion = "musl", s.apk["musl"]
	case s.dpkg["libc6"] != "":
		f.Libc, f.LibcVersion = "glibc", s.dpkg["libc6"]
	case s.musl:
		f.Libc = "musl"
	case s.glibc:
		f.Libc, f.LibcVersion = "glibc", s.glibcFile
	}

	f.OpenSSLVersion = first(s.apk, apkLibssl)
	if f.OpenSSLVersion == "" {
		f.OpenSSLVersion = first(s.dpkg, dpkgLibssl)
	}
	if f.OpenSSLVersion == "" {
		f.OpenSSLVersion = s.sslVersion
	}

	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/ash"} {
		if s.exists(sh) {
			f.Shells = append(f.Shells, sh)
		}
	}
	for _, bb := range []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"} {
		if s.exists(bb) {
			f.Shells = append(f.Shells, bb)
			break
		}
	}
	return f
}

// canonical is p with the image's links followed.
func (s *factsScan) canonical(p string) string {
	c, ok := resolvePath(s.links, p)
	if !ok {
		return ""
	}
	return c
}

// exists reports whether p leads to a file in a bin directory.
func (s *factsScan) exists(p string) bool { return s.binaries[s.canonical(p)] }

// isBinDir reports whether dir is one where Facts looks for shells.
func isBinDir(dir string) bool {
	switch dir {
	case "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin":
		return true
	}
	return false
}

// isLibDir reports whether dir is one where a libc or libssl lives: /lib, /lib64, /lib32,
// /libx32, the same under /usr, and their multiarch subdirectories (/usr/lib/x86_64-linux-gnu).
func isLibDir(dir string) bool {
	d := strings.TrimPrefix(dir, "/usr")
	if parent, sub := path.Dir(d), path.Base(d); strings.Contains(sub, "-linux-") {
		d = parent
	}
	switch d {
	case "/lib", "/lib64", "/lib32", "/libx32":
		return true
	}
	return false
}

// fill copies into dst the keys it does not have yet.
func fill(dst, src map[string]string) {
	for k, v := range src {
		if dst[k] == "" {
			dst[k] = v
		}
	}
}

// first is the value of the first key m has.
func first(m map[string]string, keys []string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// isDotted reports whether v is numbers joined by dots ("3", "1.1", "2.31").
func isDotted(v string) bool {
	for _, p := range strings.Split(v, ".") {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// dottedLess compares dotted versions numerically; "" is less than any.
func dottedLess(a, b string) bool {
	if a == "" {
		return true
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for k := 0; k < len(as) && k < len(bs); k++ {
		x, _ := strconv.ParseUint(as[k], 10, 32)
		y, _ := strconv.ParseUint(bs[k], 10, 32)
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
