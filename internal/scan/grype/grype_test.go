package grype

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/scan/syft"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// alpineRecords are advisories against the packages of the real Alpine 3.19.4 and 3.20.3
// images (their apk databases are in the syft tests).
var alpineRecords = []Record{
	// musl 1.2.4_git20230717-r4 in 3.19.4 is vulnerable; 1.2.5-r0 in 3.20.3 is the fix
	{ID: "CVE-2099-1001", Namespace: "alpine:3.19", Package: "musl", FixedIn: "1.2.5-r0", Severity: scan.Critical, Description: "musl: synthetic overflow"},
	{ID: "CVE-2099-1001", Namespace: "alpine:3.20", Package: "musl", FixedIn: "1.2.5-r0", Severity: scan.Critical, Description: "musl: synthetic overflow"},
	// busybox r19 and r29 are both below the fix
	{ID: "CVE-2099-1002", Namespace: "alpine:3.19", Package: "busybox", FixedIn: "1.36.1-r30", Severity: scan.High},
	{ID: "CVE-2099-1002", Namespace: "alpine:3.20", Package: "busybox", FixedIn: "1.36.1-r30", Severity: scan.High},
	// libc-utils (origin libc-dev), not fixed, gone from 3.20.3
	{ID: "CVE-2099-1003", Namespace: "alpine:3.19", Package: "libc-dev", Severity: scan.Medium},
	// openssl fixed exactly at the installed versions: no finding in either
	{ID: "CVE-2099-1004", Namespace: "alpine:3.19", Package: "openssl", FixedIn: "3.1.7-r0", Severity: scan.High},
	{ID: "CVE-2099-1004", Namespace: "alpine:3.20", Package: "openssl", FixedIn: "3.3.2-r0", Severity: scan.High},
	// zlib: fixed before 3.19.4's version, introduced in 3.20.3's release
	{ID: "CVE-2099-1005", Namespace: "alpine:3.19", Package: "zlib", FixedIn: "1.3.1-r0", Severity: scan.Low},
	{ID: "CVE-2099-1005", Namespace: "alpine:3.20", Package: "zlib", FixedIn: "1.3.1-r2", Severity: scan.Low},
	// another distribution's advisory never matches Alpine
	{ID: "CVE-2099-1006", Namespace: "debian:12", Package: "musl", FixedIn: "9.9-1", Severity: scan.Critical},
}

func apk(id string, sev scan.Severity, pkg, version, fixed, ns string) scan.Finding {
	return scan.Finding{ID: id, Severity: sev, Package: pkg, Version: version, Type: "apk", FixedIn: fixed, Source: "alpine:distro:alpine:" + ns}
}

var alpineFindings = map[string][]scan.Finding{
	"3.19.4": {
		apk("CVE-2099-1001", scan.Critical, "musl", "1.2.4_git20230717-r4", "1.2.5-r0", "3.19"),
		apk("CVE-2099-1001", scan.Critical, "musl-utils", "1.2.4_git20230717-r4", "1.2.5-r0", "3.19"),
		apk("CVE-2099-1002", scan.High, "busybox", "1.36.1-r19", "1.36.1-r30", "3.19"),
		apk("CVE-2099-1002", scan.High, "busybox-binsh", "1.36.1-r19", "1.36.1-r30", "3.19"),
		apk("CVE-2099-1002", scan.High, "ssl_client", "1.36.1-r19", "1.36.1-r30", "3.19"),
		apk("CVE-2099-1003", scan.Medium, "libc-utils", "0.7.2-r5", "", "3.19"),
	},
	"3.20.3": {
		apk("CVE-2099-1002", scan.High, "busybox", "1.36.1-r29", "1.36.1-r30", "3.20"),
		apk("CVE-2099-1002", scan.High, "busybox-binsh", "1.36.1-r29", "1.36.1-r30", "3.20"),
		apk("CVE-2099-1002", scan.High, "ssl_client", "1.36.1-r29", "1.36.1-r30", "3.20"),
		apk("CVE-2099-1005", scan.Low, "zlib", "1.3.1-r1", "1.3.1-r2", "3.20"),
	},
}

// alpineInventory catalogues the real Alpine image of version with syft.
func alpineInventory(t *testing.T, version string) *scan.Inventory {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(testenv.AlpineImage(t, version)); err != nil {
		t.Fatal(err)
	}
	img, err := image.Resolve(context.Background(), "oci-dir:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := (&syft.Cataloger{}).Inventory(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestFindingsAlpine(t *testing.T) {
	ctx := context.Background()
	db := t.TempDir()
	if err := BuildDB(ctx, alpineRecords, db); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"6/vulnerability.db", "6/import.json"} {
		if _, err := os.Stat(filepath.Join(db, f)); err != nil {
			t.Errorf("the database directory lacks %s, as `grype db import` writes it: %v", f, err)
		}
	}
	got := map[string][]scan.Finding{}
	for _, version := range []string{"3.19.4", "3.20.3"} {
		fs, err := (&Matcher{DBDir: db}).Findings(ctx, alpineInventory(t, version))
		if err != nil {
			t.Fatal(err)
		}
		got[version] = fs
		if diff := cmp.Diff(alpineFindings[version], fs); diff != "" {
			t.Errorf("%s findings (-want +got):\n%s", version, diff)
		}
	}

	d := scan.DiffFindings(got["3.19.4"], got["3.20.3"])
	want := scan.VulnDelta{
		Introduced: []scan.Finding{alpineFindings["3.20.3"][3]},
		Fixed:      []scan.Finding{alpineFindings["3.19.4"][0], alpineFindings["3.19.4"][1], alpineFindings["3.19.4"][5]},
		Persisting: alpineFindings["3.20.3"][:3],

		IntroducedCounts: scan.SeverityCounts{Low: 1},
		FixedCounts:      scan.SeverityCounts{Critical: 2, Medium: 1},
		PersistingCounts: scan.SeverityCounts{High: 3},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("DiffFindings(3.19.4, 3.20.3) (-want +got):\n%s", diff)
	}

	// a new build replaces the database: musl's advisory now has no fix
	if err := BuildDB(ctx, []Record{{ID: "CVE-2099-2001", Namespace: "alpine:3.20", Package: "musl", Severity: scan.High}}, db); err != nil {
		t.Fatal(err)
	}
	fs, err := (&Matcher{DBDir: db}).Findings(ctx, alpineInventory(t, "3.20.3"))
	if err != nil {
		t.Fatal(err)
	}
	wantNew := []scan.Finding{
		apk("CVE-2099-2001", scan.High, "musl", "1.2.5-r0", "", "3.20"),
		apk("CVE-2099-2001", scan.High, "musl-utils", "1.2.5-r0", "", "3.20"),
	}
	if diff := cmp.Diff(wantNew, fs); diff != "" {
		t.Errorf("after a rebuild (-want +got):\n%s", diff)
	}
}

func TestFindingsErrors(t *testing.T) {
	ctx := context.Background()
	none := t.TempDir()
	_, err := (&Matcher{DBDir: none}).Findings(ctx, &scan.Inventory{SBOM: []byte(`{}`)})
	if !errors.Is(err, ErrNoDB) {
		t.Fatalf("Findings without a database: %v, want ErrNoDB", err)
	}
	for _, s := range []string{none, "--vuln-db", "grype db status"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if _, err := (&Matcher{DBDir: none}).Findings(ctx, &scan.Inventory{}); err == nil || errors.Is(err, ErrNoDB) {
		t.Errorf("Findings of an inventory without an SBOM: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&Matcher{DBDir: none}).Findings(cancelled, &scan.Inventory{SBOM: []byte(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Findings with a cancelled context: %v", err)
	}

	// a damaged database file fails its checksum instead of matching against garbage
	db := t.TempDir()
	if err := BuildDB(ctx, alpineRecords[:1], db); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(db, "6", "vulnerability.db"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("damage")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := (&Matcher{DBDir: db}).Findings(ctx, alpineInventory(t, "3.19.4")); err == nil || errors.Is(err, ErrNoDB) {
		t.Errorf("Findings against a damaged database: %v", err)
	}
}

func TestDBRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "6"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "6", "vulnerability.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// the root, its schema directory, and the file `grype db status` prints
	for _, dir := range []string{root, filepath.Join(root, "6"), filepath.Join(root, "6", "vulnerability.db")} {
		got, err := dbRoot(dir)
		if err != nil || got != root {
			t.Errorf("dbRoot(%s) = %s, %v; want %s", dir, got, err, root)
		}
	}
	for _, dir := range []string{filepath.Join(root, "missing"), filepath.Join(root, "6", "other.db")} {
		if _, err := dbRoot(dir); !errors.Is(err, ErrNoDB) {
			t.Errorf("dbRoot(%s): %v, want ErrNoDB", dir, err)
		}
	}
	t.Setenv("GRYPE_DB_CACHE_DIR", root)
	if got, err := dbRoot(""); err != nil || got != root {
		t.Errorf(`dbRoot("") = %s, %v; want the default %s`, got, err, root)
	}
}

func TestDefaultDBDir(t *testing.T) {
	t.Setenv("HOME", "/home/qa")
	t.Setenv("GRYPE_DB_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if got := DefaultDBDir(); got != "/home/qa/.cache/grype/db" {
		t.Errorf("default = %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/var/cache/qa")
	if got := DefaultDBDir(); got != "/var/cache/qa/grype/db" {
		t.Errorf("with XDG_CACHE_HOME = %s", got)
	}
	t.Setenv("GRYPE_DB_CACHE_DIR", "/srv/grype")
	if got := DefaultDBDir(); got != "/srv/grype" {
		t.Errorf("with GRYPE_DB_CACHE_DIR = %s", got)
	}
}
