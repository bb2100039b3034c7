package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrUnpinnable marks a floating reference Pin cannot rewrite in place (for
// example one assembled from several ARG or compose variables).
var ErrUnpinnable = errors.New("reference cannot be pinned in place")

// ErrStale means a file changed between Find and Apply: the text an Edit
// expects is no longer where it was.
var ErrStale = errors.New("file changed since it was read")

// Edit replaces Old, which starts at byte column Col (1-based) of line Line
// (1-based) of File, with New. An insertion has Old == "" and Col == 1 and
// puts New (a whole line) before Line; Line may be one past the last line.
type Edit struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

type siteMode int

const (
	modeNone    siteMode = iota
	modeReplace          // old is the whole reference; new is name:tag@digest
	modeTag              // old is a Helm tag value; new is tag@digest
	modeDigest           // old is a Helm digest value slot (maybe empty); new is the digest
	modeInsert           // insert "<indent>digest: <digest>" before line
)

// site says where and how Pin rewrites a reference.
type site struct {
	mode   siteMode
	line   int
	col    int // byte column, 1-based
	old    string
	prefix string // modeDigest: text put before the digest (" " after a bare "key:")
	quote  string // modeDigest: quote character around the digest, if any
	indent string // modeInsert
	eol    string // modeInsert: the file's line ending
}

// Pin resolves every floating, non-local reference with resolve (given
// "name:tag", it returns the "sha256:…" digest) and returns the Edits that
// pin each in place: Dockerfiles, manifests, compose and CI files get
// name:tag@sha256:… (the tag stays for humans; "latest" is written when no
// tag was); Helm split images get a `digest:` key next to `tag:`, the
// convention of Bitnami's common.images.image helper, or fill an existing
// empty `digest:`; a Helm image in a flow mapping gets tag: "x@sha256:…".
//
// Refs must come from Find. Pinned refs produce no Edit, so pinning twice
// changes nothing. References that cannot be pinned in place or resolved do
// not stop the others: the Edits for the rest are returned together with an
// error joining the failures (wrapping ErrUnpinnable or the resolver's error).
// Only ctx ending returns no Edits.
func Pin(ctx context.Context, refs []Ref, resolve func(ctx context.Context, ref string) (string, error)) ([]Edit, error) {
	var edits []Edit
	var errs []error
	seen := map[[3]string]bool{}
	for _, r := range refs {
		if !r.Floats || r.Local {
			continue
		}
		if r.site.mode == modeNone {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", r.File, r.Line, r.Raw, ErrUnpinnable))
			continue
		}
		key := [3]string{r.File, fmt.Sprint(r.site.line), fmt.Sprint(r.site.col)}
		if seen[key] {
			continue // one ARG default feeding several FROMs
		}
		tag := r.Tag
		if tag == "" {
			tag = "latest"
		}
		digest, err := resolve(ctx, r.Name+":"+tag)
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("inventory: pin: %w", cerr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: resolve %s:%s: %w", r.File, r.Line, r.Name, tag, err))
			continue
		}
		if !validDigest(digest) {
			errs = append(errs, fmt.Errorf("%s:%d: resolver returned %q for %s:%s, not a sha256 digest", r.File, r.Line, digest, r.Name, tag))
			continue
		}
		seen[key] = true
		s := r.site
		e := Edit{File: r.File, Line: s.line, Col: s.col, Old: s.old}
		switch s.mode {
		case modeReplace:
			e.New = r.Name + ":" + tag + "@" + digest
		case modeTag:
			e.New = s.old + "@" + digest
		case modeDigest:
			e.New = s.prefix + s.quote + digest + s.quote
		case modeInsert:
			e.New = s.indent + "digest: " + digest + s.eol
		}
		edits = append(edits, e)
	}
	return edits, errors.Join(errs...)
}

func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Apply writes edits to their files. Each file is checked completely before
// it is written (every Old must still be in place, else ErrStale and the
// file is left untouched) and replaced atomically, keeping its mode. Every
// byte outside the edited text is preserved.
func Apply(edits []Edit) error {
	byFile := map[string][]Edit{}
	var files []string
	for _, e := range edits {
		if _, ok := byFile[e.File]; !ok {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], e)
	}
	var errs []error
	for _, f := range files {
		if err := applyFile(f, byFile[f]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func applyFile(path string, edits []Edit) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("inventory: apply: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("inventory: apply: %w", err)
	}
	out, err := applyEdits(data, edits)
	if err != nil {
		return fmt.Errorf("inventory: apply %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".pin-*")
	if err != nil {
		return fmt.Errorf("inventory: apply: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("inventory: apply %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("inventory: apply %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), info.Mode().Perm()); err != nil {
		return fmt.Errorf("inventory: apply %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("inventory: apply %s: %w", path, err)
	}
	return nil
}

// Rewrite returns data with edits applied, as Apply writes them (pure): how a file would read
// after the edits, without writing it. A stale edit is ErrStale.
func Rewrite(data []byte, edits []Edit) ([]byte, error) { return applyEdits(data, edits) }

// applyEdits returns data with edits applied (pure; used by Apply and tests).
func applyEdits(data []byte, edits []Edit) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1]
	}
	sorted := append([]Edit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Line != sorted[j].Line {
			return sorted[i].Line > sorted[j].Line
		}
		return sorted[i].Col > sorted[j].Col
	})
	inserts := map[int][]byte{}
	for _, e := range sorted {
		if e.Old == "" && e.Col == 1 && strings.HasSuffix(e.New, "\n") {
			if e.Line < 1 || e.Line > len(lines)+1 {
				return nil, fmt.Errorf("line %d: %w", e.Line, ErrStale)
			}
			inserts[e.Line] = append([]byte(e.New), inserts[e.Line]...)
			continue
		}
		if e.Line < 1 || e.Line > len(lines) {
			return nil, fmt.Errorf("line %d: %w", e.Line, ErrStale)
		}
		l := lines[e.Line-1]
		start := e.Col - 1
		if start < 0 || start+len(e.Old) > len(l) || string(l[start:start+len(e.Old)]) != e.Old {
			return nil, fmt.Errorf("line %d col %d: want %q: %w", e.Line, e.Col, e.Old, ErrStale)
		}
		nl := make([]byte, 0, len(l)+len(e.New)-len(e.Old))
		nl = append(nl, l[:start]...)
		nl = append(nl, e.New...)
		nl = append(nl, l[start+len(e.Old):]...)
		lines[e.Line-1] = nl
	}
	var out bytes.Buffer
	for i, l := range lines {
		if ins, ok := inserts[i+1]; ok {
			out.Write(ins)
		}
		out.Write(l)
	}
	if ins, ok := inserts[len(lines)+1]; ok {
		if len(lines) > 0 && !bytes.HasSuffix(lines[len(lines)-1], []byte("\n")) {
			out.WriteByte('\n')
		}
		out.Write(ins)
	}
	return out.Bytes(), nil
}
