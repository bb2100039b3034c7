package fallback

import (
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/store"
)

// mirrorRef is a reference rewritten into a mirror.
type mirrorRef struct {
	mirror string // as configured, with its path prefix
	repo   string // mirror[/prefix]/<repository path>
	ref    string // repo@digest, or repo:tag
}

// mirrorRefs rewrites r into each mirror of its registry, in order: mirror[/prefix]/<repository
// path>@digest, or :tag when neither digest nor r gives a digest. A key of mirrors matches r's
// registry as written ("docker.io", "127.0.0.1:5000") or as go-containerregistry normalises it
// (docker.io and index.docker.io are one registry); a key written as in r comes first.
func mirrorRefs(mirrors map[string][]string, r name.Reference, digest string) []mirrorRef {
	suffix := "@" + digest
	switch t := r.(type) {
	case name.Digest:
		if digest == "" {
			suffix = "@" + t.DigestStr()
		}
	case name.Tag:
		if digest == "" {
			suffix = ":" + t.TagStr()
		}
	}
	written := writtenRegistry(r.String())
	var keys []string
	for k := range mirrors {
		if k == "" {
			continue // name.NewRegistry would take it for Docker Hub
		}
		if reg, err := name.NewRegistry(k); err == nil && strings.EqualFold(reg.RegistryStr(), r.Context().RegistryStr()) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case a == written && b != written:
			return -1
		case b == written && a != written:
			return 1
		}
		return strings.Compare(a, b)
	})
	var out []mirrorRef
	seen := map[string]bool{}
	for _, k := range keys {
		for _, m := range mirrors[k] {
			if m == "" || seen[m] {
				continue
			}
			seen[m] = true
			repo := m + "/" + r.Context().RepositoryStr()
			out = append(out, mirrorRef{mirror: m, repo: repo, ref: repo + suffix})
		}
	}
	return out
}

// writtenRegistry is the registry host a reference names explicitly, "" when it names none
// ("alpine", "library/alpine": Docker Hub implied).
func writtenRegistry(ref string) string {
	host, _, ok := strings.Cut(ref, "/")
	if ok && (host == "localhost" || strings.ContainsAny(host, ".:")) {
		return host
	}
	return ""
}

// repoSpellings are the ways a stored run may name r's repository, as store.Filter.Image
// matches them: as written, as normalised, the Docker Hub short forms, each with and without
// the "registry:" transport.
func repoSpellings(r name.Reference) []string {
	repo := r.Context()
	forms := []string{store.Repository(r.String()), repo.Name()}
	if repo.RegistryStr() == name.DefaultRegistry {
		path := repo.RepositoryStr()
		forms = append(forms, "docker.io/"+path, path)
		if short, ok := strings.CutPrefix(path, "library/"); ok {
			forms = append(forms, short, "docker.io/"+short)
		}
	}
	var out []string
	for _, f := range forms {
		for _, s := range []string{f, string(image.Registry) + ":" + f} {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// sameRepository reports whether a stored run reference names a registry image of repo. A
// reference read from the Docker daemon does not count (its digest is not the registry's,
// see image.Resolve), nor one read from an OCI layout or a docker-archive (a path).
func sameRepository(stored string, repo name.Repository) bool {
	ref, ok := registryRef(stored)
	if !ok {
		return false
	}
	r, err := name.ParseReference(ref)
	return err == nil && r.Context().Name() == repo.Name()
}

// registryRef strips the "registry:" transport from a stored run reference; false for a
// reference of another transport. It reads transports as package image does.
func registryRef(stored string) (string, bool) {
	scheme, rest, ok := strings.Cut(stored, ":")
	if !ok || startsWithPort(rest) {
		return stored, true // "127.0.0.1:5000/app", "registry:5000/app" (a host called registry)
	}
	switch image.Transport(scheme) {
	case image.Registry:
		return rest, true
	case image.Daemon, image.OCIDir, image.DockerArchive:
		return "", false
	}
	return stored, true // "alpine:3.20"
}

// startsWithPort reports whether s begins like the port and path of a host:port/repo ("5000/app").
func startsWithPort(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '/'
}
