// Package scan is what plimsoll knows about the software inside an image: the packages its SBOM
// lists (Inventory), the vulnerabilities found in them (Finding), and the pure comparisons of an
// old image with a new one (DiffPackages, DiffFindings).
//
// The package imports no scanner. The syft subpackage fills an Inventory, the grype subpackage
// turns one into Findings against an offline database, and reportjson reads Findings from grype
// or Trivy reports that were made elsewhere.
package scan

import (
	"fmt"
	"strings"
)

// Package is one installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the packaging ecosystem in syft's words: apk, deb, rpm, go-module, python, npm,
	// java-archive, binary, …
	Type string `json:"type"`
	// Origin is the source package it was built from (apk origin, deb Source, rpm source RPM
	// name); "" when the ecosystem has none.
	Origin string `json:"origin,omitempty"`
	PURL   string `json:"purl,omitempty"`
}

// Distro is the Linux distribution an image says it is (its /etc/os-release).
type Distro struct {
	ID        string `json:"id"`        // "alpine", "debian"
	VersionID string `json:"versionID"` // "3.20.3", "12"
	Name      string `json:"name"`      // "Alpine Linux v3.20"
}

// Inventory is the packages of one image.
type Inventory struct {
	Distro   Distro    `json:"distro"`
	Packages []Package `json:"packages"`
	// SBOM is the syft-json document the packages were read from: grype matches it, and it is
	// re-encoded as SPDX or CycloneDX. Nil for an inventory that did not come from syft.
	SBOM []byte `json:"-"`
}

// Severity ranks a vulnerability. The order is the order of badness: a larger value is worse.
type Severity int

// Severities, from least to most severe.
const (
	Unknown Severity = iota
	Negligible
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"unknown", "negligible", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name in any case ("HIGH", "High", "high").
func ParseSeverity(s string) (Severity, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range severityNames {
		if n == t {
			return Severity(i), nil
		}
	}
	return Unknown, fmt.Errorf("unknown severity %q: use one of %s", s, strings.Join(severityNames[:], ", "))
}

// MarshalText writes the severity by name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity written by MarshalText, or in any case.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one vulnerability in one installed package.
type Finding struct {
	ID       string   `json:"id"`                // CVE-…, GHSA-…, ALSA-…
	Aliases  []string `json:"aliases,omitempty"` // other IDs of the same vulnerability
	Severity Severity `json:"severity"`
	Package  string   `json:"package"`
	Version  string   `json:"version"` // the installed version
	Type     string   `json:"type"`    // the package's ecosystem, as in Package.Type
	FixedIn  string   `json:"fixedIn,omitempty"`
	// Source is the advisory feed it came from (grype's namespace "alpine:distro:alpine:3.19",
	// Trivy's data source "alpine").
	Source string `json:"source,omitempty"`
}

// Is reports whether the finding is the vulnerability id, by its ID or one of its aliases, in
// any case.
func (f Finding) Is(id string) bool {
	if strings.EqualFold(f.ID, id) {
		return true
	}
	for _, a := range f.Aliases {
		if strings.EqualFold(a, id) {
			return true
		}
	}
	return false
}
