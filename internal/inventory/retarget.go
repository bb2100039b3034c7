package inventory

import "fmt"

// Retarget returns the edit that rewrites r, in place, to its repository at tag, pinned to
// digest ("name:tag@digest"): how a patch is applied. A reference whose text cannot be
// rewritten as a whole (a Helm digest field, a reference built from variables) is
// ErrUnpinnable; a digest that is not sha256 is an error.
func Retarget(r Ref, tag, digest string) (Edit, error) {
	if !validDigest(digest) {
		return Edit{}, fmt.Errorf("inventory: retarget %s: %q is not a sha256 digest", r.Raw, digest)
	}
	if tag == "" {
		return Edit{}, fmt.Errorf("inventory: retarget %s: empty tag", r.Raw)
	}
	s := r.site
	e := Edit{File: r.File, Line: s.line, Col: s.col, Old: s.old}
	switch {
	case r.Local:
		return Edit{}, fmt.Errorf("%s:%d: %s is built locally: %w", r.File, r.Line, r.Raw, ErrUnpinnable)
	case s.mode == modeReplace:
		e.New = r.Name + ":" + tag + "@" + digest
	case s.mode == modeTag:
		e.New = tag + "@" + digest
	default:
		return Edit{}, fmt.Errorf("%s:%d: %s: %w", r.File, r.Line, r.Raw, ErrUnpinnable)
	}
	return e, nil
}
