package reportjson

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// The grype reports in testdata are real output of grype v0.121.2 (`grype oci-dir:… -o json`,
// run without network) on the Alpine 3.19.4 and 3.20.3 minirootfs images, against the database
// the grype package's tests build. The Trivy report is written by hand in the layout of Trivy
// 0.5x reports (schema version 2), for an application image on Alpine 3.20.3 with the same
// advisories, an npm lock file and a secret-scan result without vulnerabilities.

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t *testing.T, name, wantFormat string) []scan.Finding {
	t.Helper()
	fs, format, err := Parse(bytes.NewReader(read(t, name)))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	if format != wantFormat {
		t.Fatalf("Parse(%s) format = %q, want %q", name, format, wantFormat)
	}
	return fs
}

func apk(id string, sev scan.Severity, pkg, version, fixed, source string) scan.Finding {
	return scan.Finding{ID: id, Severity: sev, Package: pkg, Version: version, Type: "apk", FixedIn: fixed, Source: source}
}

var (
	old319 = "alpine:distro:alpine:3.19"
	new320 = "alpine:distro:alpine:3.20"
)

func TestParseGrype(t *testing.T) {
	tests := []struct {
		file string
		want []scan.Finding
	}{
		{"grype-alpine-3.19.4.json", []scan.Finding{
			apk("CVE-2099-1001", scan.Critical, "musl", "1.2.4_git20230717-r4", "1.2.5-r0", old319),
			apk("CVE-2099-1001", scan.Critical, "musl-utils", "1.2.4_git20230717-r4", "1.2.5-r0", old319),
			apk("CVE-2099-1002", scan.High, "busybox", "1.36.1-r19", "1.36.1-r30", old319),
			apk("CVE-2099-1002", scan.High, "busybox-binsh", "1.36.1-r19", "1.36.1-r30", old319),
			apk("CVE-2099-1002", scan.High, "ssl_client", "1.36.1-r19", "1.36.1-r30", old319),
			apk("CVE-2099-1003", scan.Medium, "libc-utils", "0.7.2-r5", "", old319),
		}},
		{"grype-alpine-3.20.3.json", []scan.Finding{
			apk("CVE-2099-1002", scan.High, "busybox", "1.36.1-r29", "1.36.1-r30", new320),
			apk("CVE-2099-1002", scan.High, "busybox-binsh", "1.36.1-r29", "1.36.1-r30", new320),
			apk("CVE-2099-1002", scan.High, "ssl_client", "1.36.1-r29", "1.36.1-r30", new320),
			apk("CVE-2099-1005", scan.Low, "zlib", "1.3.1-r1", "1.3.1-r2", new320),
		}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parse(t, tt.file, Grype)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.file, diff)
		}
	}
}

var trivyWeb = []scan.Finding{
	apk("CVE-2099-1002", scan.High, "busybox", "1.36.1-r29", "1.36.1-r30", "alpine"),
	apk("CVE-2099-1002", scan.High, "busybox-binsh", "1.36.1-r29", "1.36.1-r30", "alpine"),
	apk("CVE-2099-1002", scan.High, "ssl_client", "1.36.1-r29", "1.36.1-r30", "alpine"),
	apk("CVE-2099-1005", scan.Low, "zlib", "1.3.1-r1", "1.3.1-r2", "alpine"),
	{ID: "CVE-2099-1007", Aliases: []string{"ALPINE-2099-0007"}, Severity: scan.Medium, Package: "libcrypto3", Version: "3.3.2-r0", Type: "apk", Source: "alpine"},
	{ID: "CVE-2021-23337", Severity: scan.High, Package: "lodash", Version: "4.17.20", Type: "npm", FixedIn: "4.17.21", Source: "ghsa"},
}

func TestParseTrivy(t *testing.T) {
	if diff := cmp.Diff(trivyWeb, parse(t, "trivy-web-2.4.1.json", Trivy)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReportsOfTwoScanners compares an old image scanned by grype with a new one scanned by
// Trivy: the same advisory on the same package persists whichever tool reported it.
func TestReportsOfTwoScanners(t *testing.T) {
	d := scan.DiffFindings(parse(t, "grype-alpine-3.19.4.json", Grype), parse(t, "trivy-web-2.4.1.json", Trivy))
	ids := func(fs []scan.Finding) (out []string) {
		for _, f := range fs {
			out = append(out, f.ID+" "+f.Package)
		}
		return out
	}
	want := map[string][]string{
		"introduced": {"CVE-2021-23337 lodash", "CVE-2099-1007 libcrypto3", "CVE-2099-1005 zlib"},
		"fixed":      {"CVE-2099-1001 musl", "CVE-2099-1001 musl-utils", "CVE-2099-1003 libc-utils"},
		"persisting": {"CVE-2099-1002 busybox", "CVE-2099-1002 busybox-binsh", "CVE-2099-1002 ssl_client"},
	}
	got := map[string][]string{"introduced": ids(d.Introduced), "fixed": ids(d.Fixed), "persisting": ids(d.Persisting)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}
}

func TestParseEmptyReports(t *testing.T) {
	for in, wantFormat := range map[string]string{
		`{"matches": [], "descriptor": {"name": "grype"}}`:                                                         Grype,
		`{"SchemaVersion": 2, "ArtifactName": "scratch", "ArtifactType": "container_image"}`:                       Trivy,
		`{"SchemaVersion": 2, "Results": [{"Target": "x (alpine 3.20.3)", "Class": "os-pkgs", "Type": "alpine"}]}`: Trivy,
	} {
		fs, format, err := Parse(strings.NewReader(in))
		if err != nil || format != wantFormat || fs == nil || len(fs) != 0 {
			t.Errorf("Parse(%s) = %v, %q, %v; want no findings of %s", in, fs, format, err, wantFormat)
		}
	}
}

func TestParseErrors(t *testing.T) {
	grypeReport, trivyReport := string(read(t, "grype-alpine-3.19.4.json")), string(read(t, "trivy-web-2.4.1.json"))
	tests := map[string]string{
		"empty":                       "",
		"whitespace":                  " \n",
		"null":                        "null",
		"not JSON":                    "Total: 3 (HIGH: 3)",
		"old Trivy list":              `[{"Target": "alpine (alpine 3.9.4)", "Vulnerabilities": null}]`,
		"neither":                     `{"bomFormat": "CycloneDX"}`,
		"truncated grype":             grypeReport[:len(grypeReport)/2],
		"truncated trivy":             trivyReport[:len(trivyReport)-3],
		"two reports":                 grypeReport + grypeReport,
		"trailing garbage":            trivyReport + "x",
		"grype matches null":          `{"matches": null}`,
		"grype matches object":        `{"matches": {}}`,
		"grype match without id":      `{"matches": [{"artifact": {"name": "musl", "version": "1.2.5-r0"}}]}`,
		"grype match without package": `{"matches": [{"vulnerability": {"id": "CVE-2099-1"}}]}`,
		"grype unknown severity":      `{"matches": [{"vulnerability": {"id": "CVE-2099-1", "severity": "Severe"}, "artifact": {"name": "musl"}}]}`,
		"trivy schema 1":              `{"SchemaVersion": 1, "Results": []}`,
		"trivy schema as string":      `{"SchemaVersion": "2", "Results": []}`,
		"trivy without package":       `{"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-1"}]}]}`,
		"trivy unknown severity":      `{"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-1", "PkgName": "musl", "Severity": "URGENT"}]}]}`,
	}
	for name, in := range tests {
		if fs, format, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: Parse succeeded with %d findings of %q", name, len(fs), format)
		}
	}
}

func TestParseDropsRepeats(t *testing.T) {
	v := `{"VulnerabilityID": "CVE-2021-23337", "PkgName": "lodash", "InstalledVersion": "4.17.20", "Severity": "HIGH"}`
	in := `{"SchemaVersion": 2, "Results": [{"Target": "a/package-lock.json", "Type": "npm", "Vulnerabilities": [` + v + `]},
		{"Target": "b/package-lock.json", "Type": "npm", "Vulnerabilities": [` + v + `]}]}`
	fs, _, err := Parse(strings.NewReader(in))
	if err != nil || len(fs) != 1 {
		t.Fatalf("Parse = %v, %v; want one finding", fs, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"grype-alpine-3.19.4.json", "grype-alpine-3.20.3.json", "trivy-web-2.4.1.json"} {
		f.Add(read(f, name))
	}
	f.Add([]byte(`{"matches": []}`))
	f.Add([]byte(`{"SchemaVersion": 2, "Results": [{"Target": "t", "Type": "alpine", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "p", "Severity": "LOW", "VendorIDs": ["A-1"]}]}]}`))
	f.Add([]byte(`{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "High", "fix": {"versions": ["1"]}}, "relatedVulnerabilities": [{"id": "GHSA-1"}], "artifact": {"name": "p"}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, format, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		if format != Grype && format != Trivy {
			t.Fatalf("format %q", format)
		}
		for _, f := range fs {
			if f.ID == "" || f.Package == "" || f.Severity < scan.Unknown || f.Severity > scan.Critical {
				t.Fatalf("finding without an ID or package, or out of range: %+v", f)
			}
		}
		// a report cut before its closing brace is never a success
		if i := bytes.LastIndexByte(b, '}'); i >= 0 {
			if _, _, err := Parse(bytes.NewReader(b[:i])); err == nil {
				t.Fatalf("truncated report %q parsed", b[:i])
			}
		}
	})
}
