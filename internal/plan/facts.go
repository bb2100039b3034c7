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
		rs = append(rs, reading{Distro, fmt.Sprintf("os-release %s→%s: another distribution (distro)", orNone(oID), orNone(nID))})
	case oID != "":
		if k, what := compareRelease(oID, o.OSVersionID, n.OSVersionID); k != "" {
			rs = append(rs, reading{k, fmt.Sprintf("os-release %s (%s)", what, k)})
		}
	}

	oLibc, nLibc := strings.ToLower(o.Libc), strings.ToLower(n.Libc)
	switch {
	case oLibc != nLibc:
		rs = append(rs, reading{Distro, fmt.Sprintf("libc %s→%s: another C library (distro)", orNone(oLibc), orNone(nLibc))})
	case oLibc != "" && o.LibcVersion != n.LibcVersion:
		rs = append(rs, versionChange(oLibc, o.LibcVersion, n.LibcVersion, 2, Distro, Patch))
	}

	if o.OpenSSLVersion != n.OpenSSLVersion {
		switch {
		case o.OpenSSLVersion == "" || n.OpenSSLVersion == "":
			rs = append(rs, reading{Minor, fmt.Sprintf("OpenSSL %s→%s: found in one image only (minor)", orNone(o.OpenSSLVersion), orNone(n.OpenSSLVersion))})
		default:
			// Before OpenSSL 3, the first two numbers were the ABI (1.0→1.1 broke it); since 3, the first.
			depth := 1
			if ns := leadingNumbers(o.OpenSSLVersion); len(ns) > 0 && ns[0] < 3 {
				depth = 2
			}
			r := versionChange("OpenSSL", o.OpenSSLVersion, n.OpenSSLVersion, depth, Major, Patch)
			if r.kind == Patch && minorChanged(o.OpenSSLVersion, n.OpenSSLVersion, depth) {
				r = reading{Minor, fmt.Sprintf("OpenSSL %s→%s: a new minor release (minor)", o.OpenSSLVersion, n.OpenSSLVersion)}
			}
			rs = append(rs, r)
		}
	}

	if ou, nu := normalizeUser(o.User), normalizeUser(n.User); ou != nu {
		rs = append(rs, reading{Minor, fmt.Sprintf("user %s→%s: the process runs as another user (minor)", ou, nu)})
	}
	if !slices.Equal(o.Entrypoint, n.Entrypoint) {
		rs = append(rs, reading{Minor, fmt.Sprintf("entrypoint %q→%q: another process starts (minor)", o.Entrypoint, n.Entrypoint)})
	}
	if !slices.Equal(o.Cmd, n.Cmd) {
		rs = append(rs, reading{Minor, fmt.Sprintf("cmd %q→%q: another default command (minor)", o.Cmd, n.Cmd)})
	}
	return rs
}

// versionChange reads a change of a library's version a→b: a change within the first depth
// numbers is big, any other change small. Versions without numbers to compare are big.
func versionChange(lib, a, b string, depth int, big, small Kind) reading {
	an, bn := leadingNumbers(a), leadingNumbers(b)
	if len(an) == 0 || len(bn) == 0 {
		return reading{big, fmt.Sprintf("%s %s→%s: versions not comparable (%s)", lib, orNone(a), orNone(b), big)}
	}
	idx, _ := firstDiff(an, bn)
	switch {
	case idx < 0:
		return reading{small, fmt.Sprintf("%s %s→%s: same version, another build (%s)", lib, a, b, small)}
	case idx < depth:
		return reading{big, fmt.Sprintf("%s %s→%s: a new release (%s)", lib, a, b, big)}
	}
	return reading{small, fmt.Sprintf("%s %s→%s: a patch release (%s)", lib, a, b, small)}
}

// minorChanged reports whether the number after the first depth numbers differs.
func minorChanged(a, b string, depth int) bool {
	an, bn := leadingNumbers(a), leadingNumbers(b)
	idx, _ := firstDiff(an, bn)
	return idx == depth
}

// normalizeUser writes the ways of saying root ("", "0", "root", "0:0", "root:root") as "root".
func normalizeUser(u string) string {
	name, group, _ := strings.Cut(strings.TrimSpace(u), ":")
	if (name == "" || name == "0" || name == "root") && (group == "" || group == "0" || group == "root") {
		return "root"
	}
	return strings.TrimSpace(u)
}
