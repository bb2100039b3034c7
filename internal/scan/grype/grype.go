// Package grype finds the vulnerabilities of an inventory with grype, run as a library against
// a grype database on disk, fully offline: the database is never updated, and an old one is
// used as it is. BuildDB makes such a database from a list of advisories, with grype's own
// build code, for air-gapped teams, the demo and the tests.
package grype

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	grypelib "github.com/anchore/grype/grype"
	v6 "github.com/anchore/grype/grype/db/v6"
	v6dist "github.com/anchore/grype/grype/db/v6/distribution"
	v6inst "github.com/anchore/grype/grype/db/v6/installation"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/matcher"
	"github.com/anchore/grype/grype/matcher/dpkg"
	"github.com/anchore/grype/grype/matcher/rpm"
	"github.com/anchore/grype/grype/matcher/stock"
	"github.com/anchore/grype/grype/pkg"
	"github.com/anchore/grype/grype/version"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// ErrNoDB means there is no grype database where one was looked for.
var ErrNoDB = errors.New("no grype vulnerability database")

// Matcher finds vulnerabilities in a grype database.
type Matcher struct {
	// DBDir is grype's database root, the directory holding 6/vulnerability.db
	// (~/.cache/grype/db by default). The path `grype db status` prints, of the file or of its
	// directory, is accepted too. "" means DefaultDBDir().
	DBDir string
}

// DefaultDBDir is where grype keeps its database: $GRYPE_DB_CACHE_DIR, else
// $XDG_CACHE_HOME/grype/db, else ~/.cache/grype/db; "" when there is no home directory either.
func DefaultDBDir() string {
	if d := os.Getenv("GRYPE_DB_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "grype", "db")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "grype", "db")
}

// Findings matches the packages of inv's SBOM against the database, the way `grype sbom:FILE`
// does with its default settings, without touching the network.
func (m *Matcher) Findings(ctx context.Context, inv *scan.Inventory) ([]scan.Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if inv == nil || len(inv.SBOM) == 0 {
		return nil, errors.New("grype: the inventory carries no SBOM to match")
	}
	root, err := dbRoot(m.DBDir)
	if err != nil {
		return nil, err
	}
	vp, status, err := grypelib.LoadVulnerabilityDB(v6dist.Config{}, installConfig(root), false)
	if err != nil {
		return nil, fmt.Errorf("grype database %s: %w", root, err)
	}
	defer vp.Close()
	pkgs, pctx, _, err := pkg.ProvideFromReader(bytes.NewReader(inv.SBOM), pkg.ProviderConfig{})
	if err != nil {
		return nil, fmt.Errorf("grype: read SBOM: %w", err)
	}
	vm := grypelib.VulnerabilityMatcher{VulnerabilityProvider: vp, Matchers: matcher.NewDefaultMatchers(matcherConfig)}
	matches, _, err := vm.FindMatchesContext(ctx, pkgs, pctx)
	if err != nil {
		return nil, fmt.Errorf("grype: match against the database built %s: %w", status.Built.Format("2006-01-02"), err)
	}
	return findings(matches.Sorted()), nil
}

// matcherConfig is grype's CLI default (cmd/grype/cli/options/match.go): CPEs only for the
// stock matcher, no Maven lookups.
var matcherConfig = matcher.Config{
	Stock: stock.MatcherConfig{UseCPEs: true},
	Dpkg:  dpkg.MatcherConfig{MissingEpochStrategy: version.MissingEpochStrategyZero},
	Rpm:   rpm.MatcherConfig{MissingEpochStrategy: version.MissingEpochStrategyAuto},
}

// installConfig reads the database under root as it is: no update, and no age limit, so a
// database mirrored into an air-gapped network stays usable.
func installConfig(root string) v6inst.Config {
	return v6inst.Config{DBRootDir: root, ValidateChecksum: true, ValidateAge: false}
}

// dbRoot finds grype's database root from dir: the root itself, its schema directory
// (…/6) or the database file (…/6/vulnerability.db).
func dbRoot(dir string) (string, error) {
	if dir == "" {
		dir = DefaultDBDir()
	}
	root := dir
	switch {
	case filepath.Base(dir) == v6.VulnerabilityDBFileName:
		root = filepath.Dir(filepath.Dir(dir))
	case filepath.Base(dir) == strconv.Itoa(v6.ModelVersion) && exists(filepath.Join(dir, v6.VulnerabilityDBFileName)):
		root = filepath.Dir(dir)
	}
	file := installConfig(root).DBFilePath()
	if dir == "" || !exists(file) {
		return "", fmt.Errorf("%w in %q (looked for %s): point --vuln-db at the path `grype db status` prints, or build a database with `plimsoll vulndb build`", ErrNoDB, dir, file)
	}
	return root, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// findings turns grype's matches into findings, one per vulnerability and package.
func findings(ms []match.Match) []scan.Finding {
	type key struct{ id, pkg, version, typ string }
	byKey := map[key]*scan.Finding{}
	var order []key
	for _, m := range ms {
		k := key{m.Vulnerability.ID, m.Package.Name, m.Package.Version, string(m.Package.Type)}
		f, ok := byKey[k]
		if !ok {
			f = &scan.Finding{ID: k.id, Package: k.pkg, Version: k.version, Type: k.typ, Source: m.Vulnerability.Namespace, Severity: scan.Unknown}
			if md := m.Vulnerability.Metadata; md != nil {
				if s, err := scan.ParseSeverity(md.Severity); err == nil {
					f.Severity = s
				}
			}
			f.FixedIn = strings.Join(m.Vulnerability.Fix.Versions, ", ")
			byKey[k] = f
			order = append(order, k)
		}
		for _, r := range m.Vulnerability.RelatedVulnerabilities {
			if r.ID != f.ID && !slices.Contains(f.Aliases, r.ID) {
				f.Aliases = append(f.Aliases, r.ID)
			}
		}
	}
	out := make([]scan.Finding, 0, len(order))
	for _, k := range order {
		f := byKey[k]
		slices.Sort(f.Aliases)
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b scan.Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package), cmp.Compare(a.Version, b.Version))
	})
	return out
}
