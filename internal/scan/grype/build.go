package grype

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	grypedb "github.com/anchore/grype/grype/db"
	"github.com/anchore/grype/grype/db/provider"
	v6 "github.com/anchore/grype/grype/db/v6"
	v6dist "github.com/anchore/grype/grype/db/v6/distribution"
	v6inst "github.com/anchore/grype/grype/db/v6/installation"
	"github.com/anchore/grype/grype/distro"
	"github.com/anchore/grype/grype/version"
	"sigs.k8s.io/yaml"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// Record is one advisory: a vulnerability of one package of one distribution release.
type Record struct {
	// ID names the vulnerability: CVE-2024-1234, ALPINE-…, an internal ID.
	ID string `json:"id"`
	// Namespace is the distribution release as vunnel writes it: DISTRO:VERSION, "alpine:3.20"
	// (major.minor for Alpine), "debian:12", "ubuntu:24.04", "rhel:9".
	Namespace string `json:"namespace"`
	// Package is the distribution's package name (a source package is matched through the
	// binary packages built from it, as grype does).
	Package string `json:"package"`
	// FixedIn is the first version without the vulnerability, "" when there is no fix.
	FixedIn string `json:"fixedIn,omitempty"`
	// VersionFormat is "apk", "dpkg" or "rpm"; "" means the distribution's own.
	VersionFormat string        `json:"versionFormat,omitempty"`
	Severity      scan.Severity `json:"severity"`
	Description   string        `json:"description,omitempty"`
}

// versionFormats are the distributions' own version formats, by grype's distro type.
var versionFormats = map[distro.Type]string{
	distro.Alpine: "apk", distro.Wolfi: "apk", distro.Chainguard: "apk",
	distro.Debian: "dpkg", distro.Ubuntu: "dpkg",
	distro.RedHat: "rpm", distro.CentOS: "rpm", distro.Fedora: "rpm", distro.AmazonLinux: "rpm",
	distro.OracleLinux: "rpm", distro.RockyLinux: "rpm", distro.AlmaLinux: "rpm", distro.SLES: "rpm",
	distro.Mariner: "rpm", distro.Azure: "rpm", distro.Photon: "rpm",
}

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]*$`)
	namespacePattern = regexp.MustCompile(`^([a-z0-9-]+):([0-9][0-9.]*|[a-z]+)$`)
)

// validate checks one record and fills in its version format.
func (r *Record) validate() error {
	if !idPattern.MatchString(r.ID) || len(r.ID) > 128 {
		return fmt.Errorf("id %q: want letters, digits and ._:+- (CVE-2024-1234)", r.ID)
	}
	m := namespacePattern.FindStringSubmatch(r.Namespace)
	if m == nil {
		return fmt.Errorf("namespace %q: want DISTRO:VERSION (alpine:3.20, debian:12)", r.Namespace)
	}
	t, ok := distro.IDMapping[m[1]]
	if !ok {
		return fmt.Errorf("namespace %q: unknown distribution %q", r.Namespace, m[1])
	}
	if strings.TrimSpace(r.Package) == "" || strings.ContainsAny(r.Package, " \t\n/") {
		return fmt.Errorf("package %q: want a package name", r.Package)
	}
	if r.VersionFormat == "" {
		r.VersionFormat = versionFormats[t]
	}
	switch r.VersionFormat {
	case "apk", "dpkg", "rpm":
	case "":
		return fmt.Errorf("versionFormat: required for %s (apk, dpkg or rpm)", m[1])
	default:
		return fmt.Errorf("versionFormat %q: want apk, dpkg or rpm", r.VersionFormat)
	}
	if r.FixedIn != "" {
		if err := version.New(r.FixedIn, version.ParseFormat(r.VersionFormat)).Validate(); err != nil || strings.TrimSpace(r.FixedIn) != r.FixedIn {
			return fmt.Errorf("fixedIn %q is not a %s version", r.FixedIn, r.VersionFormat)
		}
	}
	if r.Severity < scan.Unknown || r.Severity > scan.Critical {
		return fmt.Errorf("severity %d out of range", int(r.Severity))
	}
	return nil
}

// LoadRecords reads a YAML or JSON list of records. Unknown fields, a missing severity and
// invalid records are errors; every problem is reported.
func LoadRecords(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := parseRecords(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// recordFile is Record as written in a file, where severity is required.
type recordFile struct {
	Record
	Severity *string `json:"severity"`
}

func parseRecords(b []byte) ([]Record, error) {
	var in []recordFile
	if err := yaml.UnmarshalStrict(b, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, errors.New("no records")
	}
	rs := make([]Record, len(in))
	var errs []error
	for i, f := range in {
		rs[i] = f.Record
		if f.Severity == nil {
			errs = append(errs, fmt.Errorf("record %d (%s): severity is required", i+1, f.ID))
			continue
		}
		s, err := scan.ParseSeverity(*f.Severity)
		if err != nil {
			errs = append(errs, fmt.Errorf("record %d (%s): %w", i+1, f.ID, err))
			continue
		}
		rs[i].Severity = s
	}
	if err := checkRecords(rs); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// checkRecords validates every record and their consistency: one package once per advisory,
// one severity and description per advisory and namespace.
func checkRecords(rs []Record) error {
	var errs []error
	type adv struct{ ns, id string }
	first := map[adv]Record{}
	seen := map[[3]string]bool{}
	for i := range rs {
		r := &rs[i]
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("record %d (%s): %w", i+1, r.ID, err))
			continue
		}
		k := [3]string{r.Namespace, r.ID, r.Package}
		if seen[k] {
			errs = append(errs, fmt.Errorf("record %d: %s lists %s in %s twice", i+1, r.ID, r.Package, r.Namespace))
		}
		seen[k] = true
		a := adv{r.Namespace, r.ID}
		if f, ok := first[a]; !ok {
			first[a] = *r
		} else if f.Severity != r.Severity || f.Description != r.Description {
			errs = append(errs, fmt.Errorf("record %d: %s in %s has another severity or description than before", i+1, r.ID, r.Namespace))
		}
	}
	return errors.Join(errs...)
}

// BuildDB builds a grype database of records with grype's own build code (vunnel "os"
// records → grype-db's v6 builder) and imports it into dbDir the way `grype db import` does,
// replacing any database there: the grype CLI reads the result with
// GRYPE_DB_CACHE_DIR=dbDir GRYPE_DB_AUTO_UPDATE=false.
func BuildDB(ctx context.Context, records []Record, dbDir string) error {
	if len(records) == 0 {
		return errors.New("build grype database: no records")
	}
	records = slices.Clone(records)
	if err := checkRecords(records); err != nil {
		return fmt.Errorf("build grype database: %w", err)
	}
	work, err := os.MkdirTemp("", "plimsoll-vulndb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	states, err := writeWorkspaces(filepath.Join(work, "input"), records, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("build grype database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	out := filepath.Join(work, "build")
	if err := grypedb.Build(grypedb.BuildConfig{
		SchemaVersion: v6.ModelVersion, Directory: out, States: states, Timestamp: time.Now().UTC(),
		IncludeCPEParts: []string{"a", "h", "o"}, Hydrate: true, BatchSize: grypedb.DefaultBatchSize,
	}); err != nil {
		return fmt.Errorf("build grype database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, err := curator(dbDir)
	if err != nil {
		return err
	}
	if err := cur.Import(filepath.Join(out, v6.VulnerabilityDBFileName)); err != nil {
		return fmt.Errorf("import grype database into %s: %w", dbDir, err)
	}
	return nil
}

func curator(dbDir string) (v6.Curator, error) {
	client, err := v6dist.NewClient(v6dist.Config{})
	if err != nil {
		return nil, fmt.Errorf("grype distribution client: %w", err)
	}
	cur, err := v6inst.NewCurator(installConfig(dbDir), client)
	if err != nil {
		return nil, fmt.Errorf("grype database curator: %w", err)
	}
	return cur, nil
}

// writeWorkspaces writes the records as vunnel provider workspaces under dir, one provider per
// distribution, one result file per advisory and namespace, and returns their states.
func writeWorkspaces(dir string, records []Record, now time.Time) (provider.States, error) {
	byProvider := map[string]map[[2]string][]Record{}
	for _, r := range records {
		name, _, _ := strings.Cut(r.Namespace, ":")
		if byProvider[name] == nil {
			byProvider[name] = map[[2]string][]Record{}
		}
		k := [2]string{r.Namespace, r.ID}
		byProvider[name][k] = append(byProvider[name][k], r)
	}
	var states provider.States
	for _, name := range slices.Sorted(maps.Keys(byProvider)) {
		w := provider.NewWorkspaceWriter(dir, name)
		var files []provider.File
		advisories := byProvider[name]
		keys := slices.SortedFunc(maps.Keys(advisories), func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		for i, k := range keys {
			b, err := json.Marshal(vunnelRecord(advisories[k]))
			if err != nil {
				return nil, err
			}
			// numbered: two IDs may look alike once made safe for a file name
			f, err := w.WriteResult(fmt.Sprintf("%s/%05d-%s.json", fileSafe(k[0]), i, fileSafe(k[1])), b)
			if err != nil {
				return nil, err
			}
			files = append(files, *f)
		}
		if err := w.WriteListing(files); err != nil {
			return nil, err
		}
		listing, err := provider.NewFile(w.ListingPath())
		if err != nil {
			return nil, err
		}
		listing.Path = "results/" + filepath.Base(w.ListingPath())
		if err := w.WriteState(provider.State{
			Provider: name, Version: 1, Processor: "plimsoll", URLs: []string{"https://plimsoll.invalid/vulndb"},
			Schema:    provider.Schema{Version: "1.0.3", URL: "https://raw.githubusercontent.com/anchore/vunnel/main/schema/provider-workspace-state/schema-1.0.3.json"},
			Timestamp: now, Listing: listing, Store: "flat-file",
		}); err != nil {
			return nil, err
		}
		st, err := provider.ReadState(filepath.Join(w.Path(), "metadata.json"))
		if err != nil {
			return nil, err
		}
		states = append(states, *st)
	}
	return states, nil
}

// vunnelRecord is the vunnel "os" schema envelope of one advisory in one namespace.
func vunnelRecord(rs []Record) map[string]any {
	r := rs[0]
	var fixedIn []map[string]any
	for _, p := range rs {
		fixedIn = append(fixedIn, map[string]any{
			"Name": p.Package, "NamespaceName": p.Namespace, "VersionFormat": p.VersionFormat,
			"Version":        cmp.Or(p.FixedIn, "None"), // vunnel's word for no fix
			"VendorAdvisory": map[string]any{"NoAdvisory": false, "AdvisorySummary": []any{}},
		})
	}
	return map[string]any{
		"identifier": r.Namespace + "/" + r.ID,
		"schema":     "https://raw.githubusercontent.com/anchore/vunnel/main/schema/vulnerability/os/schema-1.1.0.json",
		"item": map[string]any{"Vulnerability": map[string]any{
			"Name": r.ID, "NamespaceName": r.Namespace, "Description": r.Description,
			"Severity": vunnelSeverity(r.Severity), "Link": "", "CVSS": []any{}, "Metadata": map[string]any{},
			"FixedIn": fixedIn,
		}},
	}
}

// vunnelSeverity spells a severity the way vunnel does: "Critical", "Unknown".
func vunnelSeverity(s scan.Severity) string {
	n := s.String()
	return strings.ToUpper(n[:1]) + n[1:]
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._+-]`)

func fileSafe(s string) string { return unsafeFileChars.ReplaceAllString(s, "-") }
