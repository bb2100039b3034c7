// Package reportjson reads vulnerability reports made elsewhere, by `grype -o json` or
// `trivy image -f json`, into findings, so a team that already scans its images can gate on
// those reports instead of plimsoll's own matching.
package reportjson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// The formats Parse reads.
const (
	Grype = "grype"
	Trivy = "trivy"
)

// maxReport bounds the size of a report Parse reads.
const maxReport = 256 << 20

// Parse reads a grype or Trivy JSON report, recognised by its content, and returns its
// findings and format. A report that is malformed, truncated, of another kind, or whose
// findings lack an ID or a package name is an error, never an empty result.
func Parse(r io.Reader) ([]scan.Finding, string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxReport+1))
	if err != nil {
		return nil, "", fmt.Errorf("read report: %w", err)
	}
	if len(b) > maxReport {
		return nil, "", fmt.Errorf("report larger than %d MiB", maxReport>>20)
	}
	var top map[string]json.RawMessage
	if err := decodeWhole(b, &top); err != nil {
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			return nil, "", errors.New("a JSON list is no grype or Trivy report (Trivy before 0.20 wrote one: scan again with a newer Trivy)")
		}
		return nil, "", fmt.Errorf("not a JSON report: %w", err)
	}
	var fs []scan.Finding
	var format string
	switch {
	case top["matches"] != nil:
		format = Grype
		fs, err = parseGrype(b)
	case top["SchemaVersion"] != nil:
		format = Trivy
		fs, err = parseTrivy(b)
	default:
		return nil, "", errors.New("neither a grype report (no \"matches\") nor a Trivy report (no \"SchemaVersion\")")
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s report: %w", format, err)
	}
	return dedupe(fs), format, nil
}

// decodeWhole decodes b into v and fails on anything after the first JSON value.
func decodeWhole(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the report")
	}
	return nil
}

// grypeReport is the part of grype's JSON (grype/presenter/models.Document) Parse reads.
type grypeReport struct {
	Matches *[]struct {
		Vulnerability struct {
			ID        string `json:"id"`
			Namespace string `json:"namespace"`
			Severity  string `json:"severity"`
			Fix       struct {
				Versions []string `json:"versions"`
			} `json:"fix"`
		} `json:"vulnerability"`
		RelatedVulnerabilities []struct {
			ID string `json:"id"`
		} `json:"relatedVulnerabilities"`
		Artifact struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Type    string `json:"type"`
		} `json:"artifact"`
	} `json:"matches"`
}

func parseGrype(b []byte) ([]scan.Finding, error) {
	var rep grypeReport
	if err := decodeWhole(b, &rep); err != nil {
		return nil, err
	}
	if rep.Matches == nil {
		return nil, errors.New(`"matches" is null`)
	}
	fs := []scan.Finding{}
	for i, m := range *rep.Matches {
		v := m.Vulnerability
		if v.ID == "" || m.Artifact.Name == "" {
			return nil, fmt.Errorf("match %d: no vulnerability id or package name", i+1)
		}
		sev, err := severity(v.Severity)
		if err != nil {
			return nil, fmt.Errorf("match %d (%s): %w", i+1, v.ID, err)
		}
		f := scan.Finding{ID: v.ID, Severity: sev, Package: m.Artifact.Name, Version: m.Artifact.Version,
			Type: m.Artifact.Type, FixedIn: strings.Join(v.Fix.Versions, ", "), Source: v.Namespace}
		for _, r := range m.RelatedVulnerabilities {
			if r.ID != "" && r.ID != f.ID && !slices.Contains(f.Aliases, r.ID) {
				f.Aliases = append(f.Aliases, r.ID)
			}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// trivyReport is the part of Trivy's JSON (pkg/types.Report, schema version 2) Parse reads.
type trivyReport struct {
	SchemaVersion int `json:"SchemaVersion"`
	Results       []struct {
		Target          string `json:"Target"`
		Class           string `json:"Class"`
		Type            string `json:"Type"`
		Vulnerabilities []struct {
			VulnerabilityID  string   `json:"VulnerabilityID"`
			VendorIDs        []string `json:"VendorIDs"`
			PkgName          string   `json:"PkgName"`
			InstalledVersion string   `json:"InstalledVersion"`
			FixedVersion     string   `json:"FixedVersion"`
			Severity         string   `json:"Severity"`
			DataSource       *struct {
				ID string `json:"ID"`
			} `json:"DataSource"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

func parseTrivy(b []byte) ([]scan.Finding, error) {
	var rep trivyReport
	if err := decodeWhole(b, &rep); err != nil {
		return nil, err
	}
	if rep.SchemaVersion != 2 {
		return nil, fmt.Errorf("schema version %d, want 2", rep.SchemaVersion)
	}
	fs := []scan.Finding{}
	for _, res := range rep.Results {
		for i, v := range res.Vulnerabilities {
			if v.VulnerabilityID == "" || v.PkgName == "" {
				return nil, fmt.Errorf("%s: vulnerability %d: no VulnerabilityID or PkgName", res.Target, i+1)
			}
			sev, err := severity(v.Severity)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", res.Target, v.VulnerabilityID, err)
			}
			f := scan.Finding{ID: v.VulnerabilityID, Severity: sev, Package: v.PkgName, Version: v.InstalledVersion,
				Type: trivyType(res.Type), FixedIn: v.FixedVersion, Source: res.Type}
			if v.DataSource != nil && v.DataSource.ID != "" {
				f.Source = v.DataSource.ID
			}
			for _, id := range v.VendorIDs {
				if id != "" && id != f.ID && !slices.Contains(f.Aliases, id) {
					f.Aliases = append(f.Aliases, id)
				}
			}
			fs = append(fs, f)
		}
	}
	return fs, nil
}

// severity reads a report's severity; none is Unknown.
func severity(s string) (scan.Severity, error) {
	if s == "" {
		return scan.Unknown, nil
	}
	return scan.ParseSeverity(s)
}

// trivyTypes maps Trivy's result types to syft's package types, the vocabulary of
// scan.Package.Type; types not listed are kept as Trivy names them.
var trivyTypes = map[string]string{
	"alpine": "apk", "wolfi": "apk", "chainguard": "apk",
	"debian": "deb", "ubuntu": "deb",
	"redhat": "rpm", "centos": "rpm", "rocky": "rpm", "alma": "rpm", "amazon": "rpm", "oracle": "rpm",
	"fedora": "rpm", "photon": "rpm", "suse linux enterprise server": "rpm", "opensuse.leap": "rpm",
	"cbl-mariner": "rpm", "azurelinux": "rpm",
	"npm": "npm", "yarn": "npm", "pnpm": "npm", "bun": "npm", "node-pkg": "npm",
	"gomod": "go-module", "gobinary": "go-module",
	"pip": "python", "pipenv": "python", "poetry": "python", "uv": "python", "python-pkg": "python",
	"jar": "java-archive", "pom": "java-archive", "gradle": "java-archive", "sbt": "java-archive",
	"bundler": "gem", "gemspec": "gem",
	"cargo": "rust-crate", "rustbinary": "rust-crate",
	"composer": "php-composer", "composer-vendor": "php-composer",
	"nuget": "dotnet", "dotnet-core": "dotnet", "packages-props": "dotnet",
}

func trivyType(t string) string { return cmp.Or(trivyTypes[t], t) }

// dedupe drops repeated findings: the same vulnerability in the same package, version and
// type (Trivy lists a package once per lock file that names it).
func dedupe(fs []scan.Finding) []scan.Finding {
	type key struct{ id, pkg, version, typ string }
	seen := map[key]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := key{f.ID, f.Package, f.Version, f.Type}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}
