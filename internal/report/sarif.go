package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/scan"
)

// SARIF writes vulnerabilities.sarif: SARIF 2.1.0 of the vulnerabilities the new image
// introduces (the Introduced list of the L1 vulnerabilities check's delta), so GitHub code
// scanning shows them. There is one rule per vulnerability ID, with a level and the
// "security-severity" property GitHub ranks alerts by, and one result per introduced finding.
//
// An image has no source file to point at, so every result is located at a pseudo-location:
// the new image's repository as a relative URI ("registry.example.com/shop/api" for
// registry.example.com/shop/api:1.4.3), line 1, with the package as a logical location. The
// partial fingerprint hashes the vulnerability ID, the package and its type and that
// repository — not the version or the digest — so the same finding keeps its alert from one
// run and one rebuild to the next. A report with no vulnerability delta (the check did not run
// or could not tell) writes a run with no results.
type SARIF struct{}

// Format is "sarif".
func (SARIF) Format() string { return "sarif" }

// Filename is "vulnerabilities.sarif".
func (SARIF) Filename() string { return "vulnerabilities.sarif" }

// SARIFVersion and SARIFSchema name the version of SARIF written.
const (
	SARIFVersion = "2.1.0"
	SARIFSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

// sarifFingerprintKey names the partial fingerprint in every result.
const sarifFingerprintKey = "plimsollVulnerability/v1"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	HelpURI              string          `json:"helpUri,omitempty"`
	Help                 sarifHelp       `json:"help"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           sarifRuleProps  `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Precision        string   `json:"precision"`
	Tags             []string `json:"tags"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// Encode writes the introduced vulnerabilities of r as a SARIF log.
func (SARIF) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	name := cleanLine(r.Tool.Name)
	if name == "" {
		name = "plimsoll"
	}
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: name, Version: cleanLine(r.Tool.Version), InformationURI: "https://github.com/plimsoll/plimsoll", Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	uri := sarifImageURI(&r.New)
	introduced := introducedFindings(r)
	// One rule per ID, at the severity of its worst finding; results point at it by index.
	worst := map[string]scan.Finding{}
	var ids []string
	for _, f := range introduced {
		id := cleanLine(f.ID)
		if w, ok := worst[id]; !ok || f.Severity > w.Severity {
			if !ok {
				ids = append(ids, id)
			}
			worst[id] = f
		}
	}
	ruleIndex := map[string]int{}
	for i, id := range ids {
		ruleIndex[id] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(id, worst[id]))
	}
	for _, f := range introduced {
		id, pkg := cleanLine(f.ID), cleanLine(f.Package)
		msg := fmt.Sprintf("%s (%s) in %s %s, introduced by %s", id, f.Severity, pkg, cleanLine(f.Version), label(&r.New))
		if f.FixedIn != "" {
			msg += "; fixed in " + cleanLine(f.FixedIn)
		} else {
			msg += "; no fix available"
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: id, RuleIndex: ruleIndex[id], Level: sarifLevel(worst[id].Severity), Message: sarifText{Text: msg},
			Locations: []sarifLocation{{
				PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: 1}},
				LogicalLocations: []sarifLogical{{Name: pkg, FullyQualifiedName: cleanLine(f.Type) + "/" + pkg, Kind: "module"}},
			}},
			PartialFingerprints: map[string]string{sarifFingerprintKey: sarifFingerprint(f.ID, f.Package, f.Type, uri)},
		})
	}
	b, err := json.MarshalIndent(sarifLog{Schema: SARIFSchema, Version: SARIFVersion, Runs: []sarifRun{run}}, "", "  ")
	if err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	return nil
}

// introducedFindings returns the introduced findings of every L1 vulnerabilities result whose
// Data holds a delta, sorted by ID, package and type.
func introducedFindings(r *Report) []scan.Finding {
	var out []scan.Finding
	for _, l := range r.Layers {
		for _, res := range l.Results {
			if res.Layer != check.L1Diff || res.Check != "vulnerabilities" || res.Data == nil {
				continue
			}
			var data struct {
				Delta *scan.VulnDelta `json:"delta"`
				// Ignored findings are not introduced ones; the field is read only so the
				// strict decoding accepts the check's Data.
				Ignored json.RawMessage `json:"ignored"`
			}
			if decodeData(res.Data, &data) && data.Delta != nil {
				out = append(out, data.Delta.Introduced...)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Type < b.Type
	})
	return out
}

// sarifRuleOf is the rule of vulnerability id, described by its worst finding f.
func sarifRuleOf(id string, f scan.Finding) sarifRule {
	sev := f.Severity.String()
	desc := fmt.Sprintf("%s: a %s vulnerability the new image introduces", id, sev)
	if len(f.Aliases) > 0 {
		var as []string
		for _, a := range f.Aliases {
			as = append(as, cleanLine(a))
		}
		desc += "; also known as " + strings.Join(as, ", ")
	}
	if f.Source != "" {
		desc += "; reported by " + cleanLine(f.Source)
	}
	rule := sarifRule{
		ID: id, Name: "IntroducedVulnerability",
		ShortDescription:     sarifText{Text: fmt.Sprintf("%s (%s) introduced by the new image", id, sev)},
		FullDescription:      sarifText{Text: desc},
		HelpURI:              advisoryURL(id),
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(f.Severity)},
		Properties: sarifRuleProps{SecuritySeverity: securitySeverity(f.Severity), Precision: "very-high",
			Tags: []string{"security", "vulnerability", "container-image", sev}},
	}
	rule.Help = sarifHelp{Text: desc + ". Upgrade the package or the base image to a version without it.",
		Markdown: "**" + markdownSafe(id) + "** (" + sev + ") was introduced by the new image. Upgrade the package or the base image to a version without it."}
	if rule.HelpURI != "" {
		rule.Help.Markdown += " [Advisory](" + rule.HelpURI + ")"
	}
	return rule
}

// markdownSafe keeps the characters of a vulnerability ID that cannot start Markdown syntax.
func markdownSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == ':' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, s)
}

// advisoryURL links a CVE to NVD and a GHSA to GitHub's advisory database; "" for other IDs.
func advisoryURL(id string) string {
	switch {
	case strings.HasPrefix(id, "CVE-") && markdownSafe(id) == id:
		return "https://nvd.nist.gov/vuln/detail/" + id
	case strings.HasPrefix(id, "GHSA-") && markdownSafe(id) == id:
		return "https://github.com/advisories/" + id
	}
	return ""
}

// sarifLevel maps a severity to a SARIF level: critical and high are errors, medium a warning,
// the rest notes.
func sarifLevel(s scan.Severity) string {
	switch s {
	case scan.Critical, scan.High:
		return "error"
	case scan.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the score GitHub code scanning sorts alerts by (above 9.0 critical,
// 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low); "" for an unknown severity, which GitHub then
// leaves unranked.
func securitySeverity(s scan.Severity) string {
	switch s {
	case scan.Critical:
		return "9.5"
	case scan.High:
		return "8.0"
	case scan.Medium:
		return "5.5"
	case scan.Low:
		return "2.0"
	case scan.Negligible:
		return "0.1"
	}
	return ""
}

// sarifImageURI is the pseudo-location of the new image: its repository (name without tag
// or digest, transport prefix dropped), each segment URI-escaped (a colon too, so no segment
// reads as a scheme), as a relative URI.
func sarifImageURI(s *Subject) string {
	name := s.Name
	if name == "" {
		name = s.Ref
	}
	name = cleanLine(name)
	// A transport prefix ("oci-dir:", "docker-archive://") ends at a colon before the first
	// slash that a port number does not follow.
	if i := strings.Index(name, ":"); i > 0 && (!strings.Contains(name[:i], "/")) &&
		(i+1 == len(name) || name[i+1] < '0' || name[i+1] > '9') {
		name = name[i+1:]
	}
	name, _, _ = strings.Cut(name, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	var segs []string
	for _, seg := range strings.Split(name, "/") {
		if seg != "" && seg != "." && seg != ".." {
			segs = append(segs, strings.ReplaceAll(url.PathEscape(seg), ":", "%3A"))
		}
	}
	if len(segs) == 0 {
		return "container-image"
	}
	return strings.Join(segs, "/")
}

// sarifFingerprint hashes what identifies one introduced finding across runs.
func sarifFingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
