package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinels Resolve's errors wrap, for callers that branch.
var (
	// ErrBadReference: the reference is malformed, names an unsupported transport, or does not
	// say which of several images it means.
	ErrBadReference = errors.New("malformed image reference")
	// ErrNotFound: the named source (file, directory, daemon, registry) has no such image.
	ErrNotFound = errors.New("image not found")
	// ErrUnreadable: the source exists but holds no readable image (a corrupt or truncated
	// tarball, a directory that is not an OCI layout).
	ErrUnreadable = errors.New("unreadable image")
)

// maxDetail bounds the part of an error message that comes from a dependency.
const maxDetail = 300

// refError is an error about one reference: "REF: MESSAGE", one line, free of credentials.
type refError struct {
	ref   string // as the user wrote it, with any URL userinfo redacted
	kind  error  // a sentinel, or nil
	msg   string // one line, scrubbed
	cause error  // what went wrong below, or nil
}

func (e *refError) Error() string {
	if e.ref == "" {
		return e.msg
	}
	return e.ref + ": " + e.msg
}

func (e *refError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// fail builds a refError of kind with msg; the cause's text, one-lined and scrubbed of secrets,
// follows msg after a colon.
func fail(kind error, msg string, cause error, secrets ...string) *refError {
	if cause != nil {
		msg += ": " + detail(cause, secrets)
		if len(secrets) > 0 {
			cause = scrubbed{cause, secrets}
		}
	}
	return &refError{kind: kind, msg: scrub(msg, secrets), cause: cause}
}

// scrubbed is a cause whose text is scrubbed of secrets, so that a caller printing the chain
// one level down still shows none.
type scrubbed struct {
	err     error
	secrets []string
}

func (s scrubbed) Error() string { return scrub(s.err.Error(), s.secrets) }
func (s scrubbed) Unwrap() error { return s.err }

// at names ref in err when err is a refError that has no reference yet.
func at(ref string, err error) error {
	var re *refError
	if errors.As(err, &re) && re.ref == "" {
		re.ref = redactRef(ref)
	}
	return err
}

// detail is err's text on one line, scrubbed of secrets and URL userinfo, cut to maxDetail.
func detail(err error, secrets []string) string {
	s := redactRef(scrub(strings.Join(strings.Fields(err.Error()), " "), secrets))
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// digestAfterAt matches the digest that follows the "@" of REPO@DIGEST ("sha256:…").
var digestAfterAt = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}`)

// RedactRef hides the credentials a reference, or any text holding references, may carry:
// the userinfo of a URL-like reference ("https://user:pass@host/…") and of a bare or
// transport-prefixed one ("user:pass@host/…", "registry:user:pass@host/…"). Neither is valid
// reference syntax, but either is what a user may paste, and it must reach no output, report
// or store. The "@" of a digest ("app@sha256:…") is kept. It runs in linear time.
func RedactRef(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !isRefStop(s[i]) {
			continue
		}
		b.WriteString(redactToken(s[start:i]))
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

// redactRef is RedactRef, under the name the package's own code uses.
func redactRef(ref string) string { return RedactRef(ref) }

// isRefStop reports whether c ends a reference inside free text.
func isRefStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '(', ')', '<', '>', '[', ']', '{', '}', ',', ';', '=':
		return true
	}
	return false
}

// redactToken hides the userinfo of one reference-like token: everything between its scheme
// ("https://") or transport ("registry:") and its last "@" that does not start a digest.
func redactToken(tok string) string {
	if !strings.Contains(tok, "@") {
		return tok
	}
	prefix := 0
	if i := strings.Index(tok, "//"); i >= 0 {
		prefix = i + 2
	} else if scheme, _, ok := strings.Cut(tok, ":"); ok {
		switch Transport(scheme) {
		case OCIDir, DockerArchive:
			return tok // a path, whose "@" is no userinfo
		case Registry, Daemon:
			prefix = len(scheme) + 1
		}
	}
	rest := tok[prefix:]
	for at := strings.LastIndexByte(rest, '@'); at > 0; at = strings.LastIndexByte(rest[:at], '@') {
		if !digestAfterAt.MatchString(rest[at+1:]) {
			return tok[:prefix] + "[redacted]" + rest[at:]
		}
	}
	return tok
}

// reworded is err with another text: the same chain for errors.Is and errors.As.
type reworded struct {
	msg string
	err error
}

func (r reworded) Error() string { return r.msg }
func (r reworded) Unwrap() error { return r.err }

// inWords rewrites the registry diagnostics in err's text whose detail go-containerregistry
// prints as Go values ("MANIFEST_UNKNOWN: manifest unknown; map[Tag:9.9.9]") in words
// ("MANIFEST_UNKNOWN: manifest unknown (tag 9.9.9)").
func inWords(err error, te *transport.Error) error {
	msg := err.Error()
	for _, d := range te.Errors {
		if d.Detail == nil {
			continue
		}
		msg = strings.Replace(msg, d.String(), fmt.Sprintf("%s: %s (%s)", d.Code, d.Message, detailWords(d.Detail)), 1)
	}
	if msg == err.Error() {
		return err
	}
	return reworded{msg: msg, err: err}
}

// detailWords says a diagnostic's detail: an object as "key value" pairs sorted by key, with
// keys in lower case, a string as it is, anything else as JSON.
func detailWords(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, strings.ToLower(k)+" "+detailWords(v[k]))
		}
		return strings.Join(parts, ", ")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}
