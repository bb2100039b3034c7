package scan

import (
	"cmp"
	"slices"
	"strings"
)

// VulnDelta is what an upgrade does to an image's vulnerabilities.
type VulnDelta struct {
	// Introduced are in the new image only.
	Introduced []Finding `json:"introduced"`
	// Fixed are in the old image only.
	Fixed []Finding `json:"fixed"`
	// Persisting are in both, as found in the new image (a package may have moved to another
	// still-vulnerable version).
	Persisting []Finding `json:"persisting"`

	IntroducedCounts SeverityCounts `json:"introducedCounts"`
	FixedCounts      SeverityCounts `json:"fixedCounts"`
	PersistingCounts SeverityCounts `json:"persistingCounts"`
}

// SeverityCounts counts findings by severity.
type SeverityCounts struct {
	Critical   int `json:"critical"`
	High       int `json:"high"`
	Medium     int `json:"medium"`
	Low        int `json:"low"`
	Negligible int `json:"negligible"`
	Unknown    int `json:"unknown"`
}

// CountSeverities counts the findings of each severity.
func CountSeverities(fs []Finding) SeverityCounts {
	var c SeverityCounts
	for _, f := range fs {
		switch f.Severity {
		case Critical:
			c.Critical++
		case High:
			c.High++
		case Medium:
			c.Medium++
		case Low:
			c.Low++
		case Negligible:
			c.Negligible++
		default:
			c.Unknown++
		}
	}
	return c
}

// AtLeast is the number of findings at severity s or worse.
func (c SeverityCounts) AtLeast(s Severity) int {
	n := 0
	for _, x := range []struct {
		sev Severity
		n   int
	}{{Critical, c.Critical}, {High, c.High}, {Medium, c.Medium}, {Low, c.Low}, {Negligible, c.Negligible}, {Unknown, c.Unknown}} {
		if x.sev >= s {
			n += x.n
		}
	}
	return n
}

// DiffFindings compares the findings of the old image with those of the new one. Two findings
// are the same vulnerability when they are in a package of the same name and share an ID,
// counting aliases (a GHSA reported by one scanner is its CVE reported by another); the
// installed version does not matter. Each list is sorted worst first, then by ID and package.
func DiffFindings(old, new []Finding) VulnDelta {
	oldIdx, newIdx := indexFindings(old), indexFindings(new)
	var d VulnDelta
	for _, f := range new {
		if oldIdx.has(f) {
			d.Persisting = append(d.Persisting, f)
		} else {
			d.Introduced = append(d.Introduced, f)
		}
	}
	for _, f := range old {
		if !newIdx.has(f) {
			d.Fixed = append(d.Fixed, f)
		}
	}
	for _, s := range [][]Finding{d.Introduced, d.Fixed, d.Persisting} {
		slices.SortStableFunc(s, compareFindings)
	}
	d.IntroducedCounts, d.FixedCounts, d.PersistingCounts = CountSeverities(d.Introduced), CountSeverities(d.Fixed), CountSeverities(d.Persisting)
	return d
}

// findingIndex holds, per package name, the IDs (with aliases, upper-cased) found in it.
type findingIndex map[string]map[string]bool

func indexFindings(fs []Finding) findingIndex {
	idx := findingIndex{}
	for _, f := range fs {
		ids := idx[f.Package]
		if ids == nil {
			ids = map[string]bool{}
			idx[f.Package] = ids
		}
		for _, id := range f.ids() {
			ids[id] = true
		}
	}
	return idx
}

func (idx findingIndex) has(f Finding) bool {
	ids := idx[f.Package]
	for _, id := range f.ids() {
		if ids[id] {
			return true
		}
	}
	return false
}

func (f Finding) ids() []string {
	out := make([]string, 0, 1+len(f.Aliases))
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		if id != "" {
			out = append(out, strings.ToUpper(id))
		}
	}
	return out
}

func compareFindings(a, b Finding) int {
	return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package), cmp.Compare(a.Version, b.Version))
}
