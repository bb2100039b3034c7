// Package inventory finds the container image references a repository runs
// (Dockerfiles, Kubernetes manifests, Helm values and charts, docker-compose
// files, GitHub Actions and GitLab CI files) and pins floating ones to digests
// in place, touching only the reference text.
//
// Find walks the tree and returns every reference with its file and line.
// Pin turns the floating ones into Edits through a caller-supplied resolver,
// Apply writes them, and Check lists what is still unpinned (for CI).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kind is the kind of file a reference was found in.
type Kind string

// The supported file kinds.
const (
	KindDockerfile Kind = "dockerfile"
	KindK8s        Kind = "k8s"
	KindHelm       Kind = "helm"
	KindCompose    Kind = "compose"
	KindGitHub     Kind = "github"
	KindGitLab     Kind = "gitlab"
)

// maxFileSize bounds the files Find reads; larger ones are reported as warnings.
const maxFileSize = 8 << 20

// Ref is one image reference found in a file.
type Ref struct {
	File string `json:"file"`
	// Line is the 1-based line where the reference text is written (for an
	// ARG-based FROM, the line of the ARG default; for a Helm split image,
	// the line of the repository key).
	Line int  `json:"line"`
	Kind Kind `json:"kind"`
	// Raw is the reference as written (Helm split images: the combined form).
	Raw  string `json:"raw"`
	Name string `json:"name"`
	// Tag is empty when none is written (which means latest).
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Floats is true when the reference has no digest.
	Floats bool `json:"floats"`
	// Local is true for an image built here (a compose service with build:
	// and image:); Pin and Check leave it alone.
	Local bool   `json:"local,omitempty"`
	Note  string `json:"note,omitempty"`

	site site // where Pin rewrites; zero mode = cannot be pinned in place
}

// Warning is a file Find could not (fully) read; it never aborts Find.
type Warning struct {
	File string `json:"file"`
	Msg  string `json:"msg"`
}

func (w Warning) String() string { return w.File + ": " + w.Msg }

// Find walks roots (directories or files) and returns the image references
// found, sorted by file and line, plus one warning per file it could not read
// cleanly. vendor, node_modules and .git directories and Helm chart templates
// are skipped. The error is non-nil only when a root is missing or ctx ends.
func Find(ctx context.Context, roots []string) ([]Ref, []Warning, error) {
	var refs []Ref
	var warns []Warning
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				if path == root {
					return err
				}
				warns = append(warns, Warning{File: path, Msg: err.Error()})
				return nil
			}
			if d.IsDir() {
				if path != root && skipDir(path, d.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			kind, ok := classify(path)
			if !ok || !d.Type().IsRegular() {
				return nil
			}
			found, problems := scanFile(path, kind)
			refs = append(refs, found...)
			if len(problems) > 0 {
				warns = append(warns, Warning{File: path, Msg: strings.Join(problems, "; ")})
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("inventory: walk %s: %w", root, err)
		}
	}
	sort.SliceStable(refs, func(i, j int) bool {
		if refs[i].File != refs[j].File {
			return refs[i].File < refs[j].File
		}
		return refs[i].Line < refs[j].Line
	})
	return refs, warns, nil
}

// Check returns the references that still float (no digest), leaving out
// images built locally. It is what `pin --check` fails on.
func Check(refs []Ref) []Ref {
	var out []Ref
	for _, r := range refs {
		if r.Floats && !r.Local {
			out = append(out, r)
		}
	}
	return out
}

func skipDir(path, base string) bool {
	switch base {
	case "vendor", "node_modules", ".git":
		return true
	case "templates":
		_, err := os.Stat(filepath.Join(filepath.Dir(path), "Chart.yaml"))
		return err == nil
	}
	return false
}

// classify says which kind of file path is, from its name and place.
func classify(path string) (Kind, bool) {
	base := filepath.Base(path)
	lower := strings.ToLower(base)
	ext := filepath.Ext(lower)
	yml := ext == ".yaml" || ext == ".yml"
	switch {
	case lower == "dockerfile" || lower == "containerfile" ||
		strings.HasPrefix(lower, "dockerfile.") || strings.HasSuffix(lower, ".dockerfile") ||
		strings.HasPrefix(lower, "containerfile."):
		return KindDockerfile, true
	case !yml:
		return "", false
	case strings.HasSuffix(lower, ".gitlab-ci.yml") || strings.HasSuffix(lower, ".gitlab-ci.yaml"):
		return KindGitLab, true
	case filepath.Base(filepath.Dir(path)) == "workflows" &&
		filepath.Base(filepath.Dir(filepath.Dir(path))) == ".github":
		return KindGitHub, true
	case strings.HasPrefix(lower, "docker-compose") || lower == "compose.yaml" || lower == "compose.yml" ||
		strings.HasPrefix(lower, "compose."):
		return KindCompose, true
	case strings.HasPrefix(lower, "values"):
		return KindHelm, true
	case lower == "chart.yaml" || lower == "chart.yml":
		return "", false
	}
	return KindK8s, true
}

func scanFile(path string, kind Kind) ([]Ref, []string) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	if info.Size() > maxFileSize {
		return nil, []string{fmt.Sprintf("skipped: %d bytes is larger than %d", info.Size(), maxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	if kind == KindDockerfile {
		return parseDockerfile(path, data)
	}
	return parseYAML(path, kind, data, chartAppVersion(path, kind))
}

// parsed is a reference string split into its parts.
type parsed struct {
	name, tag, digest string
}

var errEmptyRef = errors.New("empty reference")

// parseRef validates s with go-containerregistry and splits it into the
// repository as written, the tag and the digest.
func parseRef(s string) (parsed, error) {
	if s == "" {
		return parsed{}, errEmptyRef
	}
	if _, err := name.ParseReference(s); err != nil {
		return parsed{}, fmt.Errorf("parse %q: %w", s, err)
	}
	var p parsed
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, p.digest = rest[:i], rest[i+1:]
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, p.tag = rest[:i], rest[i+1:]
	}
	p.name = rest
	return p, nil
}

// newRef builds a Ref from a parsed reference.
func newRef(file string, line int, kind Kind, raw string, p parsed, note string, s site) Ref {
	return Ref{File: file, Line: line, Kind: kind, Raw: raw, Name: p.name, Tag: p.tag, Digest: p.digest,
		Floats: p.digest == "", Note: note, site: s}
}
