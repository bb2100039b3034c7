// Package owners says who owns a file of a repository: the rules of a CODEOWNERS file (GitHub's
// format: a path pattern and its owners per line, the last matching line winning) and rules
// added after them (the patch policy's owners), which therefore take precedence.
package owners

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrFormat means an owners file is not in CODEOWNERS format (or uses what this reader does
// not: GitLab's [sections], negated patterns).
var ErrFormat = errors.New("not a CODEOWNERS file")

// maxFile bounds the owners file read.
const maxFile = 1 << 20

// Files are where a CODEOWNERS file is looked for, relative to the repository root, in
// GitHub's order.
var Files = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// Rules are ownership rules, in order: the last that matches a path decides.
type Rules struct {
	rules []rule
}

type rule struct {
	pattern string
	re      *regexp.Regexp
	owners  []string
}

var owner = regexp.MustCompile(`^(@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+)$`)

// Parse reads a CODEOWNERS file; name names it in errors. A line that is not a pattern
// followed by owners (@user, @org/team or an e-mail address) is ErrFormat with its line number.
func Parse(r io.Reader, name string) (*Rules, error) {
	rs := &Rules{}
	sc := bufio.NewScanner(io.LimitReader(r, maxFile))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") || strings.HasPrefix(line, "^[") {
			return nil, fmt.Errorf("%s:%d: %w: GitLab sections are not read", name, n, ErrFormat)
		}
		f := strings.Fields(line)
		if err := rs.Add(f[0], f[1:]...); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrFormat, err)
	}
	return rs, nil
}

// Find reads the CODEOWNERS file of the repository at root (see Files); none there is nil
// rules, no error.
func Find(root string) (*Rules, error) {
	for _, f := range Files {
		p := filepath.Join(root, filepath.FromSlash(f))
		fh, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("owners: %w", err)
		}
		defer fh.Close()
		return Parse(fh, p)
	}
	return nil, nil
}

// Add adds a rule after the others: pattern (CODEOWNERS syntax) is owned by owners; no owners
// leaves the paths it matches unowned.
func (rs *Rules) Add(pattern string, owners ...string) error {
	if strings.HasPrefix(pattern, "!") {
		return fmt.Errorf("%w: %q: negated patterns are not supported", ErrFormat, pattern)
	}
	for _, o := range owners {
		if !owner.MatchString(o) {
			return fmt.Errorf("%w: %q is not an owner (@user, @org/team or an e-mail address)", ErrFormat, o)
		}
	}
	re, err := compile(pattern)
	if err != nil {
		return fmt.Errorf("%w: pattern %q: %v", ErrFormat, pattern, err)
	}
	rs.rules = append(rs.rules, rule{pattern: pattern, re: re, owners: owners})
	return nil
}

// Of returns the owners of path (slash-separated, relative to the repository root); nil when
// no rule names any.
func (rs *Rules) Of(path string) []string {
	if rs == nil {
		return nil
	}
	path = strings.TrimPrefix(filepath.ToSlash(path), "./")
	for i := len(rs.rules) - 1; i >= 0; i-- {
		if rs.rules[i].re.MatchString(path) {
			return rs.rules[i].owners
		}
	}
	return nil
}

// compile turns a CODEOWNERS pattern into a regular expression over slash-separated paths: a
// pattern with a slash other than a trailing one is anchored at the root, one without matches
// at any depth; "*" stays within a path element, "**" crosses them; a pattern matching a
// directory matches everything under it.
func compile(p string) (*regexp.Regexp, error) {
	if p == "" || strings.ContainsAny(p, "\\[]{}") {
		return nil, errors.New("empty or with characters CODEOWNERS does not allow")
	}
	anchored := strings.Contains(strings.TrimSuffix(p, "/"), "/")
	p = strings.Trim(p, "/")
	var b strings.Builder
	if anchored || p == "*" {
		b.WriteString("^")
	} else {
		b.WriteString("^(?:.*/)?")
	}
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("(?:/.*)?$")
	return regexp.Compile(b.String())
}
