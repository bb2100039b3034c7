package plan

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// TagVersion is what a tag says about the version of an image.
type TagVersion struct {
	// Prefix is what precedes the version, lower-cased: "py" in "py3.12.1", "node", "v"; "" for none.
	Prefix string
	// Numbers are the version's dotted numbers: 3.12.1 → [3 12 1]. Empty when the tag names only
	// a base distribution ("bookworm", "alpine3.20").
	Numbers []int
	// Flavor is the variant's words after the version, without distribution and build markers:
	// "slim", "jre", "rc1", "prod"; "" for none.
	Flavor string
	// Build is a build or package revision marker: "r4" in "1.25.3-r4", "9" in "17.0.9_9-jre".
	Build string
	// Distro is the base distribution the tag names, as an os-release ID ("alpine", "debian",
	// "ubuntu", "rhel"), and DistroVersion its release ("3.19", "12" for bookworm), "" when not named.
	Distro, DistroVersion string
}

// ParseTagVersion reads the version a tag names: "3.12.1-slim", "py3.12.1", "node18",
// "1.21.5-prod", "v2.3.4", "3.12.1-alpine3.19", "17.0.9_9-jre-jammy", "bookworm". It reports false
// for a tag that names neither a version nor a distribution release ("latest", "stable", a
// commit hash).
func ParseTagVersion(tag string) (TagVersion, bool) {
	s := strings.ToLower(strings.TrimSpace(tag))
	// Commit hashes carry no version: drop them ("sha-1a2b3c4", "1.2.3-4-g1a2b3c4").
	var kept []string
	for _, tok := range strings.Split(s, "-") {
		if !commitRE.MatchString(tok) || strings.Trim(tok, "0123456789") == "" {
			kept = append(kept, tok)
		}
	}
	s = strings.Join(kept, "-")

	var tv TagVersion
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		tv.readVariant(s)
		return tv, tv.DistroVersion != ""
	}
	prefix := strings.TrimRight(s[:i], "-_.")
	j := i
	for j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1])) {
		j++
	}
	for _, f := range strings.Split(s[i:j], ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return TagVersion{}, false // a number too large for a version
		}
		tv.Numbers = append(tv.Numbers, n)
	}
	rest := s[j:]
	if rest != "" && strings.ContainsRune("-_.+", rune(rest[0])) {
		rest = rest[1:]
	}
	if d, ok := distroTokens[prefix]; ok {
		// "alpine3.20": the numbers are the distribution's release, not the image's version.
		tv.Distro, tv.DistroVersion, tv.Numbers = d, s[i:j], nil
	} else if c, ok := codenames[prefix]; ok {
		// "jammy-20240405": a distribution release and a date stamp.
		tv.Distro, tv.DistroVersion, tv.Build, tv.Numbers = c.distro, c.version, s[i:j], nil
	} else {
		tv.Prefix = prefix
	}
	tv.readVariant(rest)
	return tv, len(tv.Numbers) > 0 || tv.DistroVersion != ""
}

// readVariant sorts the variant's tokens into distribution, build and flavor.
func (tv *TagVersion) readVariant(v string) {
	toks := strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '_' || r == '+' })
	var flavor, build []string
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		if c, ok := codenames[t]; ok && tv.Distro == "" {
			tv.Distro, tv.DistroVersion = c.distro, c.version
			continue
		}
		if m := distroRE.FindStringSubmatch(t); m != nil && tv.Distro == "" {
			if d, ok := distroTokens[m[1]]; ok {
				tv.Distro, tv.DistroVersion = d, m[2]
				if m[2] == "" && k+1 < len(toks) && versionRE.MatchString(toks[k+1]) {
					tv.DistroVersion = toks[k+1] // "debian-12"
					k++
				}
				continue
			}
		}
		if buildRE.MatchString(t) {
			build = append(build, t)
			continue
		}
		flavor = append(flavor, t)
	}
	if tv.Build != "" {
		build = append([]string{tv.Build}, build...)
	}
	tv.Flavor, tv.Build = strings.Join(flavor, "-"), strings.Join(build, "-")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var (
	commitRE  = regexp.MustCompile(`^g?[0-9a-f]{7,64}$`)
	distroRE  = regexp.MustCompile(`^([a-z]+)((?:[0-9]+)(?:\.[0-9]+)*)?$`)
	versionRE = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)*$`)
	buildRE   = regexp.MustCompile(`^r?[0-9]+$`)
)

// distroTokens maps the words tags use for a base distribution to its os-release ID.
var distroTokens = map[string]string{
	"alpine": "alpine", "debian": "debian", "ubuntu": "ubuntu", "ubi": "rhel",
	"centos": "centos", "rocky": "rocky", "rockylinux": "rocky", "alma": "almalinux",
	"almalinux": "almalinux", "al": "amzn", "amzn": "amzn", "amazonlinux": "amzn", "fedora": "fedora",
}

// codenames maps release codenames to their distribution and release.
var codenames = map[string]struct{ distro, version string }{
	"stretch": {"debian", "9"}, "buster": {"debian", "10"}, "bullseye": {"debian", "11"},
	"bookworm": {"debian", "12"}, "trixie": {"debian", "13"}, "forky": {"debian", "14"},
	"bionic": {"ubuntu", "18.04"}, "focal": {"ubuntu", "20.04"}, "jammy": {"ubuntu", "22.04"},
	"noble": {"ubuntu", "24.04"}, "oracular": {"ubuntu", "24.10"}, "plucky": {"ubuntu", "25.04"},
	"questing": {"ubuntu", "25.10"},
}

// distroRepos maps the repository names of distributions' own images to their os-release ID.
var distroRepos = map[string]string{
	"alpine": "alpine", "debian": "debian", "ubuntu": "ubuntu", "fedora": "fedora", "centos": "centos",
	"rockylinux": "rocky", "almalinux": "almalinux", "amazonlinux": "amzn", "ubi": "rhel",
	"ubi-minimal": "rhel", "ubi-micro": "rhel", "ubi-init": "rhel",
}

// releaseDepth is how many leading numbers of a distribution's version name its release: two
// (alpine 3.20, ubuntu 24.04, rhel 9.4) unless the distribution numbers releases with one.
func releaseDepth(osID string) int {
	switch osID {
	case "debian", "fedora", "amzn":
		return 1
	}
	return 2
}

// runtimeLine is a language runtime's release line: which number of its version counts the
// line's steps, and which releases are steps (nil: every release).
type runtimeLine struct {
	name      string
	component int
	step      func(v int) bool
}

// steps counts the steps of the line between releases a and b: the step releases passed, and
// one more for landing beyond the last of them (node 18→20 is one step, 18→21 two).
func (l runtimeLine) steps(a, b int) int {
	lo, hi := min(a, b), max(a, b)
	if l.step == nil || hi-lo > 64 {
		return hi - lo // every release is a step; or so far apart that counting is pointless
	}
	n := 0
	for v := lo; v < hi; v++ { // not v <= hi: hi may be the largest int
		if l.step(v + 1) {
			n++
		}
	}
	if !l.step(hi) {
		n++
	}
	return n
}

var (
	nodeLine   = runtimeLine{"node", 0, func(v int) bool { return v%2 == 0 }} // even majors are LTS
	javaLine   = runtimeLine{"Java", 0, func(v int) bool { return v == 8 || v == 11 || v >= 17 && (v-17)%4 == 0 }}
	pythonLine = runtimeLine{"python", 1, nil}
	goLine     = runtimeLine{"go", 1, nil}
	rubyLine   = runtimeLine{"ruby", 1, nil}
	phpLine    = runtimeLine{"php", 1, nil}
)

// runtimeRepos and runtimePrefixes say which release line an image follows, by repository name
// or by the tag's prefix.
var (
	runtimeRepos = map[string]runtimeLine{
		"node": nodeLine, "python": pythonLine, "golang": goLine, "ruby": rubyLine, "php": phpLine,
		"eclipse-temurin": javaLine, "openjdk": javaLine, "amazoncorretto": javaLine,
		"ibm-semeru-runtimes": javaLine, "sapmachine": javaLine,
	}
	runtimePrefixes = map[string]runtimeLine{
		"node": nodeLine, "nodejs": nodeLine, "py": pythonLine, "python": pythonLine, "go": goLine,
		"golang": goLine, "ruby": rubyLine, "php": phpLine, "jdk": javaLine, "jre": javaLine,
		"java": javaLine, "openjdk": javaLine, "temurin": javaLine,
	}
)

// repoName is the last path element of a repository, lower-cased: "docker.io/library/node" → "node".
func repoName(repo string) string {
	if repo == "" {
		return ""
	}
	return path.Base(strings.ToLower(repo))
}

// readTags reads the tags of in.
func readTags(in Input) []reading {
	oldName, newName := repoName(in.OldRepo), repoName(in.NewRepo)
	if oldName != "" && newName != "" && oldName != newName {
		return []reading{{kind: Major, why: fmt.Sprintf("repository %s→%s: a different image (major)", oldName, newName)}}
	}
	name := newName
	if name == "" {
		name = oldName
	}
	switch {
	case in.OldTag == "" && in.NewTag == "":
		return []reading{{why: "tags unknown: the content decides"}}
	case in.OldTag == "" || in.NewTag == "":
		return []reading{{why: fmt.Sprintf("tag %q→%q: one tag unknown, the content decides", in.OldTag, in.NewTag)}}
	}
	tag := "tag " + in.OldTag + "→" + in.NewTag
	o, oOK := ParseTagVersion(in.OldTag)
	n, nOK := ParseTagVersion(in.NewTag)
	if in.OldTag == in.NewTag {
		if oOK && (len(o.Numbers) >= 2 || len(o.Numbers) == 0) {
			return []reading{{kind: Patch, why: "tag " + in.NewTag + " unchanged with a new digest: a rebuild within its release (patch)"}}
		}
		return []reading{{kind: Minor, why: "tag " + in.NewTag + " unchanged with a new digest: the tag floats across releases, read as minor unless the content says more"}}
	}
	if !oOK || !nOK {
		return []reading{{kind: Minor, why: tag + ": no comparable version in both tags (minor)"}}
	}
	var rs []reading
	// The base distribution a variant names.
	switch {
	case o.Distro != "" && n.Distro != "" && o.Distro != n.Distro:
		rs = append(rs, reading{kind: Distro, why: fmt.Sprintf("%s: base %s→%s, another distribution (distro)", tag, o.Distro, n.Distro)})
	case o.Distro != "" && n.Distro != "":
		if k, what, down := compareRelease(o.Distro, o.DistroVersion, n.DistroVersion); k != "" {
			r := reading{kind: k, why: fmt.Sprintf("%s: base %s %s→%s, %s (%s)", tag, o.Distro, o.DistroVersion, n.DistroVersion, what, k)}
			if down {
				r.down = &Downgrade{What: o.Distro + " release", Old: o.DistroVersion, New: n.DistroVersion, Source: "image tags"}
			}
			rs = append(rs, r)
		}
	case o.Distro != n.Distro:
		rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("%s: base %s→%s, the variant changes the base image (minor)", tag, orNone(o.Distro), orNone(n.Distro))})
	}
	if o.Flavor != n.Flavor {
		rs = append(rs, reading{kind: Minor, why: fmt.Sprintf("%s: variant %s→%s, another flavor of the image (minor)", tag, orNone(o.Flavor), orNone(n.Flavor))})
	}
	op, np := strings.TrimPrefix(o.Prefix, "v"), strings.TrimPrefix(n.Prefix, "v")
	switch {
	case op != np:
		rs = append(rs, reading{kind: Major, why: fmt.Sprintf("%s: %s→%s name different release lines (major)", tag, orNone(o.Prefix), orNone(n.Prefix))})
	case len(o.Numbers) == 0 && len(n.Numbers) == 0:
	case len(o.Numbers) == 0 || len(n.Numbers) == 0:
		rs = append(rs, reading{kind: Minor, why: tag + ": only one tag names a version (minor)"})
	default:
		if d, ok := distroRepos[name]; ok && op == "" {
			if k, what, down := compareRelease(d, in.OldTag, in.NewTag); k != "" {
				r := reading{kind: k, why: fmt.Sprintf("%s: %s (%s)", tag, what, k)}
				if down {
					r.down = &Downgrade{What: d + " release", Old: in.OldTag, New: in.NewTag, Source: "image tags"}
				}
				rs = append(rs, r)
			}
		} else {
			rs = append(rs, compareVersions(tag, name, op, o.Numbers, n.Numbers))
		}
	}
	if len(rs) == 0 {
		rs = append(rs, reading{kind: Patch, why: tag + ": same version, a new build (patch)"})
	}
	return rs
}

// compareVersions reads two versions of one image as a runtime release line or as semver.
func compareVersions(tag, name, prefix string, o, n []int) reading {
	idx, precision := firstDiff(o, n)
	if idx < 0 {
		return reading{kind: Patch, why: tag + ": same version, a new build (patch)"}
	}
	down := ""
	if less(n, o) {
		down = ", a downgrade"
	}
	line, ok := runtimeRepos[name]
	if !ok {
		line, ok = runtimePrefixes[prefix]
	}
	if ok {
		switch {
		case idx < line.component:
			return reading{kind: Major, why: fmt.Sprintf("%s: a new %s major version%s (major)", tag, line.name, down)}
		case idx == line.component && precision:
			return reading{kind: Minor, why: fmt.Sprintf("%s: the tags pin the %s release line at different precision (minor)", tag, line.name)}
		case idx == line.component:
			s := line.steps(o[idx], n[idx])
			if s == 1 {
				return reading{kind: Minor, why: fmt.Sprintf("%s: one step of the %s release line%s (minor)", tag, line.name, down)}
			}
			return reading{kind: Major, why: fmt.Sprintf("%s: %d steps of the %s release line%s (major)", tag, s, line.name, down)}
		}
	}
	switch {
	case idx == 0:
		return reading{kind: Major, why: fmt.Sprintf("%s: a major bump%s (major)", tag, down)}
	case idx == 1:
		return reading{kind: Minor, why: fmt.Sprintf("%s: a minor bump%s (minor)", tag, down)}
	}
	return reading{kind: Patch, why: fmt.Sprintf("%s: a patch bump%s (patch)", tag, down)}
}

// compareRelease compares two versions of distribution osID: another release is distro, a point
// release patch; down is true when b is older than a. It returns "" when the versions are equal.
func compareRelease(osID, a, b string) (k Kind, what string, down bool) {
	if a == b {
		return "", "", false
	}
	an, bn := leadingNumbers(a), leadingNumbers(b)
	if len(an) == 0 || len(bn) == 0 {
		return Distro, fmt.Sprintf("%s releases %s→%s not comparable", osID, orNone(a), orNone(b)), false
	}
	idx, _ := firstDiff(an, bn)
	down = less(bn, an)
	switch {
	case idx < 0:
		return Patch, fmt.Sprintf("%s %s→%s, the same release", osID, a, b), false
	case idx < releaseDepth(osID) && down:
		return Distro, fmt.Sprintf("%s %s→%s, a downgrade to an older release", osID, a, b), true
	case idx < releaseDepth(osID):
		return Distro, fmt.Sprintf("%s %s→%s, a new release", osID, a, b), false
	case down:
		return Patch, fmt.Sprintf("%s %s→%s, a downgrade to an older point release", osID, a, b), true
	}
	return Patch, fmt.Sprintf("%s %s→%s, a point release", osID, a, b), false
}

// firstDiff returns the index of the first number where a and b differ, -1 when they are
// equal. When one is a prefix of the other, the index is the shorter one's length and precision
// is true: the tags name one line at different precision.
func firstDiff(a, b []int) (idx int, precision bool) {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i, false
		}
	}
	if len(a) == len(b) {
		return -1, false
	}
	return min(len(a), len(b)), true
}

// less reports whether version a sorts before version b.
func less(a, b []int) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// leadingNumbers reads the dotted numbers a version string starts with: "1.2.4_git2023-r4" →
// [1 2 4], "2.36-9+deb12u4" → [2 36]. Nil when it starts with none or a number overflows.
func leadingNumbers(v string) []int {
	m := leadingRE.FindString(strings.TrimPrefix(strings.TrimSpace(v), "v"))
	if m == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(m, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

var leadingRE = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)*`)

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
