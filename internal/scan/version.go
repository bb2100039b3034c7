package scan

import (
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	pep440 "github.com/aquasecurity/go-pep440-version"
	apkversion "github.com/knqyf263/go-apk-version"
	debversion "github.com/knqyf263/go-deb-version"
)

// compareVersions orders two versions of a package of type typ the way its ecosystem does:
// apk, deb (dpkg) and rpm by their own rules, python by PEP 440, others as semantic versions.
// A version its ecosystem cannot parse falls back to rpm's segment order, which compares digit
// runs as numbers and letter runs as text. The result is <0, 0 or >0.
func compareVersions(typ, a, b string) int {
	if a == b {
		return 0
	}
	switch typ {
	case "apk":
		va, errA := apkversion.NewVersion(a)
		vb, errB := apkversion.NewVersion(b)
		if errA == nil && errB == nil {
			return va.Compare(vb)
		}
	case "deb":
		va, errA := debversion.NewVersion(a)
		vb, errB := debversion.NewVersion(b)
		if errA == nil && errB == nil {
			return va.Compare(vb)
		}
	case "rpm":
		return compareRPM(a, b)
	case "python":
		va, errA := pep440.Parse(a)
		vb, errB := pep440.Parse(b)
		if errA == nil && errB == nil {
			return va.Compare(vb)
		}
	default:
		va, errA := semver.NewVersion(a)
		vb, errB := semver.NewVersion(b)
		if errA == nil && errB == nil {
			if c := va.Compare(vb); c != 0 {
				return c
			}
		}
	}
	return rpmvercmp(a, b)
}

// compareRPM compares [epoch:]version[-release] strings: epoch as a number, then version and
// release with rpmvercmp.
func compareRPM(a, b string) int {
	ea, va, ra := splitEVR(a)
	eb, vb, rb := splitEVR(b)
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if c := rpmvercmp(va, vb); c != 0 {
		return c
	}
	return rpmvercmp(ra, rb)
}

func splitEVR(s string) (epoch int, version, release string) {
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if n, err := strconv.Atoi(e); err == nil {
			epoch, s = n, rest
		}
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		return epoch, s[:i], s[i+1:]
	}
	return epoch, s, ""
}

// rpmvercmp is rpm's version segment comparison (rpmio/rpmvercmp.c): separators are ignored,
// digit runs compare as numbers and beat letter runs, "~" sorts before anything (1.0~rc1 <
// 1.0) and "^" after the end (1.0^git1 > 1.0).
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	for a != "" || b != "" {
		a = strings.TrimLeftFunc(a, isRPMSeparator)
		b = strings.TrimLeftFunc(b, isRPMSeparator)
		if strings.HasPrefix(a, "~") || strings.HasPrefix(b, "~") {
			if !strings.HasPrefix(a, "~") {
				return 1
			}
			if !strings.HasPrefix(b, "~") {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if strings.HasPrefix(a, "^") || strings.HasPrefix(b, "^") {
			switch {
			case a == "":
				return -1
			case b == "":
				return 1
			case !strings.HasPrefix(a, "^"):
				return 1
			case !strings.HasPrefix(b, "^"):
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if a == "" || b == "" {
			break
		}
		numeric := isDigit(rune(a[0]))
		class := isLetter
		if numeric {
			class = isDigit
		}
		segA, segB := leading(a, class), leading(b, class)
		a, b = a[len(segA):], b[len(segB):]
		if segB == "" { // b has a segment of the other kind here
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			segA, segB = strings.TrimLeft(segA, "0"), strings.TrimLeft(segB, "0")
			if len(segA) != len(segB) {
				if len(segA) > len(segB) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(segA, segB); c != 0 {
			return c
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func leading(s string, class func(rune) bool) string {
	for i, r := range s {
		if !class(r) {
			return s[:i]
		}
	}
	return s
}

func isDigit(r rune) bool  { return r >= '0' && r <= '9' }
func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isRPMSeparator(r rune) bool {
	return !isDigit(r) && !isLetter(r) && r != '~' && r != '^'
}
