package plan

import (
	"fmt"
	"slices"
	"strings"
)

// readFacts reads the content of both images: OS, libc, OpenSSL, user, entrypoint and command.
func readFacts(o, n Facts) []reading {
	var rs []reading
	oID, nID := strings.ToLower(o.OSID), strings.ToLower(n.OSID)
	switch {
	case oID != nID:
		rs = append(rs, reading{kind: Distro, why: fmt.Sprintf("os-release %s→%s: another distribution (distro)", orNone(oID), orNone(nID))})
	case oID != "":
		if k, what, down := compareRelease(oID, o.OSVersionID, n.OSVersionID); k != "" {
			r := reading{kind: k, why: fmt.Sprintf("os-release %s (%s)", what, k)}
			if down {
				r.down = &Downgrade{What: oID + " release", Old: o.OSVersionID, New: n.OSVersionID, Source: "os-release VERSION_ID of both images"}
			}
			rs = append(rs, r)
		}
	}

	oLibc, nLibc := strings.ToLower(o.Libc), strings.ToLower(n.Libc)
	switch {
	case oLibc != nLibc:
		rs = append(rs, reading{kind: Distro, why: fmt.Sprintf("libc %s→%s: another C library (distro)", orNone(oLibc), orNone(nLibc))})
	case oLibc != "" && o.LibcVersion != n.LibcVersion:
		rs = append(rs, versionChange(oLibc, o.LibcVersion, n.LibcVersion, "C library package of both images", 2, Distro, Patch, Patch))
	}

	if o.OpenSSLVersion != n.OpenSSLVersion {
		switch {
		case o.OpenSSLVersion == "" || n.OpenSSLVersion == "":
			rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("OpenSSL %s→%s: found in one image only (minor)", orNone(o.OpenSSLVersion), orNone(n.OpenSSLVersion))})
		default:
			// Before OpenSSL 3, the first two numbers were the ABI (1.0→1.1 broke it); since 3, the first.
			depth := 1
			if ns := leadingNumbers(o.OpenSSLVersion); len(ns) > 0 && ns[0] < 3 {
				depth = 2
			}
			rs = append(rs, versionChange("OpenSSL", o.OpenSSLVersion, n.OpenSSLVersion, "libssl package of both images", depth, Major, Minor, Patch))
		}
	}

	if ou, nu := normalizeUser(o.User), normalizeUser(n.User); ou != nu {
		rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("user %s→%s: the process runs as another user (minor)", ou, nu)})
	}
	if !slices.Equal(o.Entrypoint, n.Entrypoint) {
		rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("entrypoint %q→%q: another process starts (minor)", o.Entrypoint, n.Entrypoint)})
	}
	if !slices.Equal(o.Cmd, n.Cmd) {
		rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("cmd %q→%q: another default command (minor)", o.Cmd, n.Cmd)})
	}
	return rs
}

// versionChange reads a change of a library's version a→b, read from source: a change within
// the first depth numbers is big, of the next number mid, of any later number or of the letter
// after the numbers (OpenSSL's letter releases, 1.1.1d < 1.1.1k) small. Versions without numbers
// to compare are big. A change to an older version is a downgrade, said so and recorded.
func versionChange(lib, a, b, source string, depth int, big, mid, small Kind) reading {
	an, bn := leadingNumbers(a), leadingNumbers(b)
	if len(an) == 0 || len(bn) == 0 {
		return reading{kind: big, why: fmt.Sprintf("%s %s→%s: versions not comparable (%s)", lib, orNone(a), orNone(b), big)}
	}
	idx, _ := firstDiff(an, bn)
	down := less(bn, an)
	var k Kind
	var level, up string
	switch {
	case idx < 0:
		la, lb := letterRelease(a), letterRelease(b)
		if la == lb {
			return reading{kind: small, why: fmt.Sprintf("%s %s→%s: same version, another build (%s)", lib, a, b, small)}
		}
		k, level, up, down = small, "letter release", "a new letter release", lessLetters(lb, la)
	case idx < depth:
		k, level, up = big, "release", "a new release"
	case idx == depth && mid != small:
		k, level, up = mid, "minor release", "a new minor release"
	default:
		k, level, up = small, "patch release", "a patch release"
	}
	if !down {
		return reading{kind: k, why: fmt.Sprintf("%s %s→%s: %s (%s)", lib, a, b, up, k)}
	}
	return reading{kind: k, why: fmt.Sprintf("%s %s→%s: a downgrade to an older %s (%s)", lib, a, b, level, k),
		down: &Downgrade{What: lib, Old: a, New: b, Source: source}}
}

// letterRelease is the letters right after a version's leading numbers, when a separator or
// the end follows them: "g" in "1.1.1g-r0", "za" in "0.9.8za"; "" for "3.13.0rc1" or "1.2.4_git".
func letterRelease(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	rest := v[len(leadingRE.FindString(v)):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < 'a' || r > 'z' })
	if end < 0 {
		end = len(rest)
	}
	if end == 0 || end < len(rest) && isDigit(rest[end]) {
		return ""
	}
	return rest[:end]
}

// lessLetters orders letter releases: a shorter run first, then alphabetically ("" < "d" < "k" <
// "z" < "za"), as OpenSSL went on past z.
func lessLetters(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// normalizeUser writes the ways of saying root ("", "0", "root", "0:0", "root:root") as "root".
func normalizeUser(u string) string {
	name, group, _ := strings.Cut(strings.TrimSpace(u), ":")
	if (name == "" || name == "0" || name == "root") && (group == "" || group == "0" || group == "root") {
		return "root"
	}
	return strings.TrimSpace(u)
}
