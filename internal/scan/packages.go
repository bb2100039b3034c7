package scan

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// ChangeKind says how a package changed between the old and the new image.
type ChangeKind string

// The kinds of package change.
const (
	Added      ChangeKind = "added"
	Removed    ChangeKind = "removed"
	Upgraded   ChangeKind = "upgraded"
	Downgraded ChangeKind = "downgraded"
	// Renamed is one package replaced by its successor from the same source package under a
	// new soname (Alpine libssl1.1 → libssl3, Debian's t64 transition libssl3 → libssl3t64).
	Renamed ChangeKind = "renamed"
)

// PackageChange is one package that differs between the images.
type PackageChange struct {
	// Name is the package's name: the new name for a rename, the old one for a removal.
	Name string `json:"name"`
	// OldName is the name in the old image, set for a rename only.
	OldName    string     `json:"oldName,omitempty"`
	Type       string     `json:"type"`
	OldVersion string     `json:"oldVersion,omitempty"`
	NewVersion string     `json:"newVersion,omitempty"`
	Kind       ChangeKind `json:"kind"`
	// Critical names the critical component the change touches ("libc", "openssl",
	// "kernel headers", "runtime"), "" for none.
	Critical string `json:"critical,omitempty"`
}

// PackageDiff is every package change between two inventories, each list sorted by name. A
// rename whose version goes back (libssl3 3.0.15 → libssl1.1 1.1.1w) is in Renamed and, with
// kind downgraded and its old name, in Downgraded: it is both.
type PackageDiff struct {
	Added      []PackageChange `json:"added"`
	Removed    []PackageChange `json:"removed"`
	Upgraded   []PackageChange `json:"upgraded"`
	Downgraded []PackageChange `json:"downgraded"`
	Renamed    []PackageChange `json:"renamed"`
	// Unchanged counts the packages present in both at the same version.
	Unchanged int `json:"unchanged"`
}

// DiffPackages compares the packages of two inventories; nil is an empty inventory. Packages
// are matched by type and name, their versions ordered the way their ecosystem orders them
// (apk, dpkg, rpm, PEP 440, semantic versions). A removed and an added package of the same type
// built from the same source package, whose names differ only in a trailing version or "t64",
// are one rename.
func DiffPackages(old, new *Inventory) PackageDiff {
	oldBy, newBy := byKey(old), byKey(new)
	var d PackageDiff
	var removed, added []Package
	for k, olds := range oldBy {
		news := newBy[k]
		olds, news, same := withoutCommon(k.typ, olds, news)
		d.Unchanged += same
		n := min(len(olds), len(news))
		for i := range n {
			o, nw := olds[i], news[i]
			c := compareVersions(k.typ, o.Version, nw.Version)
			if c == 0 { // spelled differently, equal by the ecosystem's order
				d.Unchanged++
				continue
			}
			ch := PackageChange{Name: k.name, Type: k.typ, OldVersion: o.Version, NewVersion: nw.Version, Kind: Upgraded, Critical: critical(o, nw)}
			if c < 0 {
				d.Upgraded = append(d.Upgraded, ch)
			} else {
				ch.Kind = Downgraded
				d.Downgraded = append(d.Downgraded, ch)
			}
		}
		removed = append(removed, olds[n:]...)
		added = append(added, news[n:]...)
	}
	for k, news := range newBy {
		if _, ok := oldBy[k]; !ok {
			added = append(added, news...)
		}
	}
	d.Renamed, removed, added = renames(removed, added)
	for _, ch := range d.Renamed {
		if compareVersions(ch.Type, ch.OldVersion, ch.NewVersion) > 0 {
			ch.Kind = Downgraded
			d.Downgraded = append(d.Downgraded, ch)
		}
	}
	for _, p := range removed {
		d.Removed = append(d.Removed, PackageChange{Name: p.Name, Type: p.Type, OldVersion: p.Version, Kind: Removed, Critical: critical(p)})
	}
	for _, p := range added {
		d.Added = append(d.Added, PackageChange{Name: p.Name, Type: p.Type, NewVersion: p.Version, Kind: Added, Critical: critical(p)})
	}
	for _, s := range [][]PackageChange{d.Added, d.Removed, d.Upgraded, d.Downgraded, d.Renamed} {
		slices.SortFunc(s, compareChanges)
	}
	return d
}

type pkgKey struct{ typ, name string }

// byKey groups an inventory's packages by type and name; a name can be installed at several
// versions (language packages vendored in several places).
func byKey(inv *Inventory) map[pkgKey][]Package {
	m := map[pkgKey][]Package{}
	if inv == nil {
		return m
	}
	for _, p := range inv.Packages {
		k := pkgKey{p.Type, p.Name}
		m[k] = append(m[k], p)
	}
	return m
}

// withoutCommon removes the versions present on both sides (as many times as both have them)
// and returns the rest of each side newest first, with the number removed from each side.
func withoutCommon(typ string, olds, news []Package) (restOld, restNew []Package, same int) {
	left := slices.Clone(news)
	for _, o := range olds {
		i := slices.IndexFunc(left, func(n Package) bool { return n.Version == o.Version })
		if i < 0 {
			restOld = append(restOld, o)
			continue
		}
		left = slices.Delete(left, i, i+1)
		same++
	}
	byVersion := func(a, b Package) int { return compareVersions(typ, b.Version, a.Version) }
	slices.SortStableFunc(restOld, byVersion)
	slices.SortStableFunc(left, byVersion)
	return restOld, left, same
}

// renames pairs removed packages with added packages that succeed them, and returns the renames
// and the packages left unpaired.
func renames(removed, added []Package) (out []PackageChange, restRemoved, restAdded []Package) {
	slices.SortFunc(removed, comparePackages)
	slices.SortFunc(added, comparePackages)
	used := make([]bool, len(added))
	for _, o := range removed {
		j := -1
		for i, n := range added {
			if !used[i] && succeeds(o, n) {
				j = i
				break
			}
		}
		if j < 0 {
			restRemoved = append(restRemoved, o)
			continue
		}
		used[j] = true
		n := added[j]
		out = append(out, PackageChange{Name: n.Name, OldName: o.Name, Type: n.Type, OldVersion: o.Version, NewVersion: n.Version, Kind: Renamed, Critical: critical(o, n)})
	}
	for j, n := range added {
		if !used[j] {
			restAdded = append(restAdded, n)
		}
	}
	return out, restRemoved, restAdded
}

// succeeds reports whether n is o under a new soname: same type, same source package, and the
// same name once a trailing version and Debian's "t64" are cut off.
func succeeds(o, n Package) bool {
	if o.Type != n.Type || o.Origin == "" || o.Origin != n.Origin || o.Name == n.Name {
		return false
	}
	so, sn := nameStem(o.Name), nameStem(n.Name)
	return so != "" && so == sn
}

// nameStem cuts the soname suffix off a package name: libssl1.1, libssl3 and libssl3t64 are
// all "libssl"; libglib2.0-0t64 is "libglib".
func nameStem(name string) string {
	return strings.TrimRightFunc(strings.TrimSuffix(name, "t64"), func(r rune) bool {
		return isDigit(r) || r == '.' || r == '-' || r == '_'
	})
}

// criticalRules name the components whose every change is called out, by package or source
// package name.
var criticalRules = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"libc", regexp.MustCompile(`^(musl|glibc|libc6|libc-bin|glibc-common)$`)},
	{"openssl", regexp.MustCompile(`^(openssl[0-9.]*|openssl-libs|libssl.*|libcrypto.*)$`)},
	{"kernel headers", regexp.MustCompile(`^(linux-headers|linux-libc-dev|kernel-headers)$`)},
	{"runtime", regexp.MustCompile(`^(python[0-9.]*|libpython[0-9.]+.*|nodejs.*|openjdk.*|java-[0-9.]+-openjdk.*|go|golang.*|ruby[0-9.]*|libruby.*|php[0-9.]*)$`)},
}

// critical names the critical component any of the packages is, "" for none. Only system
// packages can be (an npm package may be called "node"), and Go's standard library.
func critical(ps ...Package) string {
	for _, p := range ps {
		if p.Type == "go-module" && p.Name == "stdlib" {
			return "runtime"
		}
		if !systemTypes[p.Type] {
			continue
		}
		for _, r := range criticalRules {
			if r.re.MatchString(p.Name) || p.Origin != "" && r.re.MatchString(p.Origin) {
				return r.kind
			}
		}
	}
	return ""
}

// systemTypes are syft's package types of distributions' package managers, and binaries found
// by their content (a python or node interpreter copied into an image).
var systemTypes = map[string]bool{"apk": true, "deb": true, "rpm": true, "alpm": true, "portage": true, "nix": true, "binary": true}

func comparePackages(a, b Package) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Version, b.Version))
}

func compareChanges(a, b PackageChange) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.OldVersion, b.OldVersion), cmp.Compare(a.NewVersion, b.NewVersion))
}
