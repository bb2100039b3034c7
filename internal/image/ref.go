package image

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// source is a reference split into where to read and what to pick there.
type source struct {
	transport Transport // "" for a bare argument
	target    string    // the image reference (registry, docker, bare) or the path (oci-dir, docker-archive)
	selector  string    // oci-dir: a tag or a digest; docker-archive: REPO:TAG; "" for none
	byDigest  bool      // selector is a digest (oci-dir:PATH@sha256:…)
}

// unsupported are syft's transports plimsoll does not read; naming one is an error rather than
// a reference to a repository called "oci-archive".
var unsupported = []string{"oci-archive", "dir", "file", "podman", "containerd", "singularity", "sif"}

// splitRef splits a reference written in the package's syntax. It looks at no file: Resolve
// decides what a bare argument is.
func splitRef(ref string) (source, error) {
	if strings.TrimSpace(ref) == "" {
		return source{}, fail(ErrBadReference, "empty image reference", nil)
	}
	if strings.ContainsAny(ref, "\x00\r\n") {
		return source{}, fail(ErrBadReference, "control character in image reference", nil)
	}
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || startsWithPort(rest) {
		return source{target: ref}, nil // "localhost:5000/app:1", "docker:5000/app" (a host called docker)
	}
	t := Transport(scheme)
	switch t {
	case Registry, Daemon:
		if rest == "" {
			return source{}, fail(ErrBadReference, fmt.Sprintf("%s: needs an image reference after the colon", t), nil)
		}
		return source{transport: t, target: rest}, nil
	case OCIDir:
		return splitLayout(rest)
	case DockerArchive:
		path, sel, hasSel := strings.Cut(rest, ":")
		if path == "" || (hasSel && sel == "") {
			return source{}, fail(ErrBadReference, "want docker-archive:PATH or docker-archive:PATH:REPO:TAG", nil)
		}
		return source{transport: t, target: path, selector: sel}, nil
	}
	for _, u := range unsupported {
		if scheme == u {
			return source{}, fail(ErrBadReference, fmt.Sprintf("transport %q is not supported (use registry:, docker:, oci-dir: or docker-archive:)", u), nil)
		}
	}
	return source{target: ref}, nil
}

// splitLayout splits the part of oci-dir:PATH[:TAG|@DIGEST] after the transport.
func splitLayout(rest string) (source, error) {
	bad := fail(ErrBadReference, "want oci-dir:PATH, oci-dir:PATH:TAG or oci-dir:PATH@sha256:…", nil)
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if dig := rest[at+1:]; strings.HasPrefix(dig, "sha256:") {
			if _, err := v1.NewHash(dig); err != nil || at == 0 {
				return source{}, bad
			}
			return source{transport: OCIDir, target: rest[:at], selector: dig, byDigest: true}, nil
		}
	}
	path, tag, hasTag := strings.Cut(rest, ":")
	if path == "" || (hasTag && tag == "") {
		return source{}, bad
	}
	return source{transport: OCIDir, target: path, selector: tag}, nil
}

// startsWithPort reports whether s begins like the port and path of a host:port/repo ("5000/app").
func startsWithPort(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '/'
}

// looksLikePath reports whether a bare argument that names nothing on disk was meant as a file
// or directory rather than an image reference.
func looksLikePath(s string) bool {
	for _, p := range []string{"/", "./", "../", "~/"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	for _, x := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}
