package scan

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

func apk(name, version, origin string) Package {
	return Package{Name: name, Version: version, Type: "apk", Origin: origin}
}

func deb(name, version, source string) Package {
	return Package{Name: name, Version: version, Type: "deb", Origin: source}
}

func inv(ps ...Package) *Inventory { return &Inventory{Packages: ps} }

func TestDiffPackages(t *testing.T) {
	tests := []struct {
		name     string
		old, new *Inventory
		want     PackageDiff
	}{
		{"both empty", nil, nil, PackageDiff{}},
		{"first deployment: everything added", nil, inv(apk("musl", "1.2.5-r0", "musl"), apk("zlib", "1.3.1-r1", "zlib")),
			PackageDiff{Added: []PackageChange{
				{Name: "musl", Type: "apk", NewVersion: "1.2.5-r0", Kind: Added, Critical: "libc"},
				{Name: "zlib", Type: "apk", NewVersion: "1.3.1-r1", Kind: Added},
			}}},
		{"upgrade, downgrade, removal, unchanged",
			inv(apk("musl", "1.2.4_git20230717-r4", "musl"), apk("zlib", "1.3.1-r1", "zlib"), apk("libc-utils", "0.7.2-r5", "libc-dev"), apk("scanelf", "1.3.7-r2", "pax-utils")),
			inv(apk("musl", "1.2.5-r0", "musl"), apk("zlib", "1.3.1-r0", "zlib"), apk("scanelf", "1.3.7-r2", "pax-utils")),
			PackageDiff{
				Removed:    []PackageChange{{Name: "libc-utils", Type: "apk", OldVersion: "0.7.2-r5", Kind: Removed}},
				Upgraded:   []PackageChange{{Name: "musl", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: Upgraded, Critical: "libc"}},
				Downgraded: []PackageChange{{Name: "zlib", Type: "apk", OldVersion: "1.3.1-r1", NewVersion: "1.3.1-r0", Kind: Downgraded}},
				Unchanged:  1,
			}},
		{"alpine 3.16 to 3.17: openssl 1.1 to 3 is two renames",
			inv(apk("libssl1.1", "1.1.1t-r2", "openssl"), apk("libcrypto1.1", "1.1.1t-r2", "openssl")),
			inv(apk("libssl3", "3.0.8-r3", "openssl"), apk("libcrypto3", "3.0.8-r3", "openssl")),
			PackageDiff{Renamed: []PackageChange{
				{Name: "libcrypto3", OldName: "libcrypto1.1", Type: "apk", OldVersion: "1.1.1t-r2", NewVersion: "3.0.8-r3", Kind: Renamed, Critical: "openssl"},
				{Name: "libssl3", OldName: "libssl1.1", Type: "apk", OldVersion: "1.1.1t-r2", NewVersion: "3.0.8-r3", Kind: Renamed, Critical: "openssl"},
			}}},
		{"debian bookworm to bullseye: libssl3 back to libssl1.1 is a rename and a downgrade",
			inv(deb("libssl3", "3.0.15-1~deb12u1", "openssl"), deb("openssl", "3.0.15-1~deb12u1", "openssl")),
			inv(deb("libssl1.1", "1.1.1w-0+deb11u1", "openssl"), deb("openssl", "1.1.1w-0+deb11u1", "openssl")),
			PackageDiff{
				Downgraded: []PackageChange{
					{Name: "libssl1.1", OldName: "libssl3", Type: "deb", OldVersion: "3.0.15-1~deb12u1", NewVersion: "1.1.1w-0+deb11u1", Kind: Downgraded, Critical: "openssl"},
					{Name: "openssl", Type: "deb", OldVersion: "3.0.15-1~deb12u1", NewVersion: "1.1.1w-0+deb11u1", Kind: Downgraded, Critical: "openssl"},
				},
				Renamed: []PackageChange{
					{Name: "libssl1.1", OldName: "libssl3", Type: "deb", OldVersion: "3.0.15-1~deb12u1", NewVersion: "1.1.1w-0+deb11u1", Kind: Renamed, Critical: "openssl"},
				},
			}},
		{"alpine 3.17 back to 3.16: libssl3 back to libssl1.1",
			inv(apk("libssl3", "3.0.15-r0", "openssl")),
			inv(apk("libssl1.1", "1.1.1w-r1", "openssl")),
			PackageDiff{
				Downgraded: []PackageChange{{Name: "libssl1.1", OldName: "libssl3", Type: "apk", OldVersion: "3.0.15-r0", NewVersion: "1.1.1w-r1", Kind: Downgraded, Critical: "openssl"}},
				Renamed:    []PackageChange{{Name: "libssl1.1", OldName: "libssl3", Type: "apk", OldVersion: "3.0.15-r0", NewVersion: "1.1.1w-r1", Kind: Renamed, Critical: "openssl"}},
			}},
		{"debian t64 transition",
			inv(deb("libssl3", "3.0.13-1", "openssl"), deb("libglib2.0-0", "2.78.4-1", "glib2.0"), deb("libfoo2", "1.0-1", "foo")),
			inv(deb("libssl3t64", "3.0.13-2", "openssl"), deb("libglib2.0-0t64", "2.78.4-2", "glib2.0"), deb("libfoo2t64", "1.0-2", "foo")),
			PackageDiff{Renamed: []PackageChange{
				{Name: "libfoo2t64", OldName: "libfoo2", Type: "deb", OldVersion: "1.0-1", NewVersion: "1.0-2", Kind: Renamed},
				{Name: "libglib2.0-0t64", OldName: "libglib2.0-0", Type: "deb", OldVersion: "2.78.4-1", NewVersion: "2.78.4-2", Kind: Renamed},
				{Name: "libssl3t64", OldName: "libssl3", Type: "deb", OldVersion: "3.0.13-1", NewVersion: "3.0.13-2", Kind: Renamed, Critical: "openssl"},
			}}},
		{"no rename across source packages or types, or without a source",
			inv(deb("libfoo1", "1.0-1", "foo"), apk("libbar1", "1-r0", "bar"), Package{Name: "left-pad1", Version: "1.0.0", Type: "npm"}),
			inv(deb("libfoo2", "2.0-1", "foo-ng"), deb("libbar2", "2-1", "bar"), Package{Name: "left-pad2", Version: "2.0.0", Type: "npm"}),
			PackageDiff{
				Added: []PackageChange{
					{Name: "left-pad2", Type: "npm", NewVersion: "2.0.0", Kind: Added},
					{Name: "libbar2", Type: "deb", NewVersion: "2-1", Kind: Added},
					{Name: "libfoo2", Type: "deb", NewVersion: "2.0-1", Kind: Added},
				},
				Removed: []PackageChange{
					{Name: "left-pad1", Type: "npm", OldVersion: "1.0.0", Kind: Removed},
					{Name: "libbar1", Type: "apk", OldVersion: "1-r0", Kind: Removed},
					{Name: "libfoo1", Type: "deb", OldVersion: "1.0-1", Kind: Removed},
				},
			}},
		{"same name in two ecosystems is two packages",
			inv(apk("openssl", "3.1.7-r0", "openssl"), Package{Name: "openssl", Version: "0.10.1", Type: "rust-crate"}),
			inv(apk("openssl", "3.3.2-r0", "openssl"), Package{Name: "openssl", Version: "0.10.1", Type: "rust-crate"}),
			PackageDiff{Upgraded: []PackageChange{{Name: "openssl", Type: "apk", OldVersion: "3.1.7-r0", NewVersion: "3.3.2-r0", Kind: Upgraded, Critical: "openssl"}}, Unchanged: 1}},
		{"a name at several versions: common ones stay, the rest pair newest first",
			inv(Package{Name: "lodash", Version: "4.17.20", Type: "npm"}, Package{Name: "lodash", Version: "3.10.1", Type: "npm"}, Package{Name: "lodash", Version: "4.17.21", Type: "npm"}),
			inv(Package{Name: "lodash", Version: "4.17.21", Type: "npm"}, Package{Name: "lodash", Version: "4.17.21", Type: "npm"}),
			PackageDiff{
				Removed:   []PackageChange{{Name: "lodash", Type: "npm", OldVersion: "3.10.1", Kind: Removed}},
				Upgraded:  []PackageChange{{Name: "lodash", Type: "npm", OldVersion: "4.17.20", NewVersion: "4.17.21", Kind: Upgraded}},
				Unchanged: 1,
			}},
		{"equal by the ecosystem's order is unchanged",
			inv(Package{Name: "requests", Version: "2.31", Type: "python"}),
			inv(Package{Name: "requests", Version: "2.31.0", Type: "python"}),
			PackageDiff{Unchanged: 1}},
		{"critical components: kernel headers, runtimes, go stdlib; not language packages named like them",
			inv(deb("linux-libc-dev", "6.1.106-3", "linux"), deb("python3.11-minimal", "3.11.2-6", "python3.11"), deb("python3-yaml", "6.0-3", "pyyaml"),
				Package{Name: "stdlib", Version: "go1.22.7", Type: "go-module"}, Package{Name: "node", Version: "1.0.0", Type: "npm"}, deb("libc6", "2.36-9+deb12u7", "glibc"), deb("libc-dev-bin", "2.36-9+deb12u7", "glibc")),
			inv(deb("linux-libc-dev", "6.1.112-1", "linux"), deb("python3.11-minimal", "3.11.2-6+deb12u3", "python3.11"), deb("python3-yaml", "6.0-3+b2", "pyyaml"),
				Package{Name: "stdlib", Version: "go1.22.8", Type: "go-module"}, Package{Name: "node", Version: "1.0.1", Type: "npm"}, deb("libc6", "2.36-9+deb12u8", "glibc"), deb("libc-dev-bin", "2.36-9+deb12u8", "glibc")),
			PackageDiff{Upgraded: []PackageChange{
				{Name: "libc-dev-bin", Type: "deb", OldVersion: "2.36-9+deb12u7", NewVersion: "2.36-9+deb12u8", Kind: Upgraded, Critical: "libc"},
				{Name: "libc6", Type: "deb", OldVersion: "2.36-9+deb12u7", NewVersion: "2.36-9+deb12u8", Kind: Upgraded, Critical: "libc"},
				{Name: "linux-libc-dev", Type: "deb", OldVersion: "6.1.106-3", NewVersion: "6.1.112-1", Kind: Upgraded, Critical: "kernel headers"},
				{Name: "node", Type: "npm", OldVersion: "1.0.0", NewVersion: "1.0.1", Kind: Upgraded},
				{Name: "python3-yaml", Type: "deb", OldVersion: "6.0-3", NewVersion: "6.0-3+b2", Kind: Upgraded},
				{Name: "python3.11-minimal", Type: "deb", OldVersion: "3.11.2-6", NewVersion: "3.11.2-6+deb12u3", Kind: Upgraded, Critical: "runtime"},
				{Name: "stdlib", Type: "go-module", OldVersion: "go1.22.7", NewVersion: "go1.22.8", Kind: Upgraded, Critical: "runtime"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffPackages(tt.old, tt.new)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DiffPackages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNameStem(t *testing.T) {
	for name, want := range map[string]string{
		"libssl1.1": "libssl", "libssl3": "libssl", "libssl3t64": "libssl", "libcrypto3": "libcrypto",
		"libglib2.0-0t64": "libglib", "libstdc++6": "libstdc++", "busybox": "busybox", "ssl_client": "ssl_client", "123": "",
	} {
		if got := nameStem(name); got != want {
			t.Errorf("nameStem(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestDiffPackagesAlpine diffs the apk databases of the real Alpine 3.19.4 and 3.20.3 root
// filesystems, read here straight from the tarballs (the syft tests read them through syft).
func TestDiffPackagesAlpine(t *testing.T) {
	old := &Inventory{Packages: apkDB(t, testenv.AlpineRootfs(t, "3.19.4"))}
	new := &Inventory{Packages: apkDB(t, testenv.AlpineRootfs(t, "3.20.3"))}
	if len(old.Packages) != 15 || len(new.Packages) != 14 {
		t.Fatalf("packages: %d old, %d new; want 15 and 14", len(old.Packages), len(new.Packages))
	}
	want := PackageDiff{
		Removed: []PackageChange{{Name: "libc-utils", Type: "apk", OldVersion: "0.7.2-r5", Kind: Removed}},
		Upgraded: []PackageChange{
			{Name: "alpine-baselayout", Type: "apk", OldVersion: "3.4.3-r2", NewVersion: "3.6.5-r0", Kind: Upgraded},
			{Name: "alpine-baselayout-data", Type: "apk", OldVersion: "3.4.3-r2", NewVersion: "3.6.5-r0", Kind: Upgraded},
			{Name: "busybox", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: Upgraded},
			{Name: "busybox-binsh", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: Upgraded},
			{Name: "ca-certificates-bundle", Type: "apk", OldVersion: "20240226-r0", NewVersion: "20240705-r0", Kind: Upgraded},
			{Name: "libcrypto3", Type: "apk", OldVersion: "3.1.7-r0", NewVersion: "3.3.2-r0", Kind: Upgraded, Critical: "openssl"},
			{Name: "libssl3", Type: "apk", OldVersion: "3.1.7-r0", NewVersion: "3.3.2-r0", Kind: Upgraded, Critical: "openssl"},
			{Name: "musl", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: Upgraded, Critical: "libc"},
			{Name: "musl-utils", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: Upgraded, Critical: "libc"},
			{Name: "ssl_client", Type: "apk", OldVersion: "1.36.1-r19", NewVersion: "1.36.1-r29", Kind: Upgraded},
			{Name: "zlib", Type: "apk", OldVersion: "1.3.1-r0", NewVersion: "1.3.1-r1", Kind: Upgraded},
		},
		Unchanged: 3, // alpine-keys, apk-tools, scanelf
	}
	if diff := cmp.Diff(want, DiffPackages(old, new)); diff != "" {
		t.Errorf("DiffPackages(3.19.4, 3.20.3) (-want +got):\n%s", diff)
	}
}

// apkDB reads lib/apk/db/installed from an Alpine root filesystem tarball.
func apkDB(t *testing.T, tarball string) []Package {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s has no lib/apk/db/installed", tarball)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(hdr.Name, "./") != "lib/apk/db/installed" {
			continue
		}
		var ps []Package
		p := Package{Type: "apk"}
		sc := bufio.NewScanner(tr)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch k {
			case "P":
				p.Name = v
			case "V":
				p.Version = v
			case "o":
				p.Origin = v
			case "":
				ps = append(ps, p)
				p = Package{Type: "apk"}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		return ps
	}
}
