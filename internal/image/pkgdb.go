package image

import (
	"bufio"
	"io"
	"strings"
)

// maxDBLine bounds one line of a package database or os-release file.
const maxDBLine = 1 << 20

// lines returns a scanner over r that takes lines up to maxDBLine bytes.
func lines(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxDBLine)
	return sc
}

// apkVersions reads an Alpine apk database (lib/apk/db/installed: stanzas of "X:value" lines
// separated by blank lines) and returns the versions of the wanted packages it lists.
func apkVersions(r io.Reader, wanted ...string) (map[string]string, error) {
	out := map[string]string{}
	pkg := ""
	sc := lines(r)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			pkg = ""
		case strings.HasPrefix(line, "P:"):
			pkg = line[2:]
		case strings.HasPrefix(line, "V:") && pkg != "" && isWanted(pkg, wanted) && out[pkg] == "":
			out[pkg] = line[2:]
		}
	}
	return out, sc.Err()
}

// dpkgVersions reads a dpkg status file (or one file of status.d/): deb822 stanzas with
// Package, Version and Status fields, and returns the versions of the wanted packages that are
// installed. A stanza without Status (distroless status.d files) counts as installed.
func dpkgVersions(r io.Reader, wanted ...string) (map[string]string, error) {
	out := map[string]string{}
	var pkg, version, status string
	flush := func() {
		if pkg != "" && version != "" && isWanted(pkg, wanted) && out[pkg] == "" &&
			(status == "" || strings.HasSuffix(status, " installed")) {
			out[pkg] = version
		}
		pkg, version, status = "", "", ""
	}
	sc := lines(r)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line
		}
		field, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(field) {
		case "package":
			pkg = value
		case "version":
			version = value
		case "status":
			status = value
		}
	}
	flush()
	return out, sc.Err()
}

func isWanted(pkg string, wanted []string) bool {
	for _, w := range wanted {
		if pkg == w {
			return true
		}
	}
	return false
}

// parseOSRelease reads os-release(5): KEY=VALUE lines, the value bare or in single or double
// quotes (backslash escapes \" \\ \$ \` in double quotes and outside quotes), "#" comments.
// Lines that are not assignments are skipped; an unclosed quote runs to the end of its line.
func parseOSRelease(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := lines(r)
	for sc.Scan() {
		if k, v, ok := parseAssignment(sc.Text()); ok {
			out[k] = v
		}
	}
	return out, sc.Err()
}

// parseAssignment parses one os-release line.
func parseAssignment(line string) (key, value string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	line = strings.TrimRight(line, "\r")
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	key, raw, found := strings.Cut(line, "=")
	if !found || !validKey(key) {
		return "", "", false
	}
	return key, shellWord(raw), true
}

// validKey reports whether k is a shell variable name.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// shellWord reads the first shell word of s: quoted and bare parts joined, up to an unquoted
// blank.
func shellWord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ', '\t':
			return b.String()
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				b.WriteString(s[i+1:])
				return b.String()
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			i++ // the closing quote, or past the end
		case '\\':
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
