package grype

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/scan"
)

const recordsYAML = `# advisories of our own mirror
- id: CVE-2099-1001
  namespace: alpine:3.20
  package: musl
  fixedIn: 1.2.5-r0
  severity: Critical
  description: "musl: synthetic overflow"
- id: CVE-2099-1003
  namespace: debian:12
  package: openssl
  severity: high
- id: RHSA-2099:0001
  namespace: rhel:9
  package: openssl
  fixedIn: "1:3.0.7-28.el9_4"
  versionFormat: rpm
  severity: MEDIUM
`

func TestLoadRecords(t *testing.T) {
	want := []Record{
		{ID: "CVE-2099-1001", Namespace: "alpine:3.20", Package: "musl", FixedIn: "1.2.5-r0", VersionFormat: "apk", Severity: scan.Critical, Description: "musl: synthetic overflow"},
		{ID: "CVE-2099-1003", Namespace: "debian:12", Package: "openssl", VersionFormat: "dpkg", Severity: scan.High},
		{ID: "RHSA-2099:0001", Namespace: "rhel:9", Package: "openssl", FixedIn: "1:3.0.7-28.el9_4", VersionFormat: "rpm", Severity: scan.Medium},
	}
	dir := t.TempDir()
	yamlPath := filepath.Join(dir, "records.yaml")
	if err := os.WriteFile(yamlPath, []byte(recordsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecords(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("YAML records (-want +got):\n%s", diff)
	}
	// the same records as JSON, as written by json.Marshal
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "records.json")
	if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = LoadRecords(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON records (-want +got):\n%s", diff)
	}
	if _, err := LoadRecords(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("LoadRecords of a missing file succeeded")
	}
}

func TestParseRecordsErrors(t *testing.T) {
	ok := "- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl, fixedIn: 1.2.5-r0, severity: high}\n"
	tests := map[string]struct{ in, msg string }{
		"empty":                {"", "no records"},
		"empty list":           {"[]", "no records"},
		"not a list":           {"id: CVE-2099-1\n", "cannot unmarshal"},
		"truncated":            {ok[:40], "yaml"},
		"unknown field":        {"- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl, severity: high, fixed: 1.2.5-r0}\n", "unknown field"},
		"duplicate key":        {"- {id: CVE-2099-1, id: CVE-2099-2, namespace: 'alpine:3.20', package: musl, severity: high}\n", "already set"},
		"no severity":          {"- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl}\n", "severity is required"},
		"bad severity":         {"- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl, severity: severe}\n", "unknown severity"},
		"no id":                {"- {namespace: 'alpine:3.20', package: musl, severity: high}\n", "id"},
		"id with a slash":      {"- {id: ../../etc, namespace: 'alpine:3.20', package: musl, severity: high}\n", "id"},
		"no namespace version": {"- {id: CVE-2099-1, namespace: alpine, package: musl, severity: high}\n", "namespace"},
		"unknown distro":       {"- {id: CVE-2099-1, namespace: 'plan9:4', package: musl, severity: high}\n", "unknown distribution"},
		"no package":           {"- {id: CVE-2099-1, namespace: 'alpine:3.20', severity: high}\n", "package"},
		"bad format":           {"- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl, versionFormat: semver, severity: high}\n", "versionFormat"},
		"bad fixed version":    {"- {id: CVE-2099-1, namespace: 'debian:12', package: musl, fixedIn: 'not a version!', severity: high}\n", "fixedIn"},
		"number as version":    {"- {id: CVE-2099-1, namespace: 'alpine:3.20', package: musl, fixedIn: 1.20, severity: high}\n", "cannot unmarshal"},
		"package twice":        {ok + ok, "twice"},
		"two severities":       {ok + "- {id: CVE-2099-1, namespace: 'alpine:3.20', package: busybox, severity: low}\n", "another severity"},
	}
	for name, tt := range tests {
		_, err := parseRecords([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want one mentioning %q", name, err, tt.msg)
		}
	}
	// every problem is reported, each with its record
	_, err := parseRecords([]byte("- {id: CVE-2099-1, namespace: x, package: musl, severity: high}\n- {id: CVE-2099-2, namespace: 'alpine:3.20', package: musl, severity: bad}\n"))
	if err == nil || !strings.Contains(err.Error(), "record 1 (CVE-2099-1)") || !strings.Contains(err.Error(), "record 2 (CVE-2099-2)") {
		t.Errorf("err = %v, want both records named", err)
	}
}

func TestBuildDBRejectsBadRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := BuildDB(ctx, nil, dir); err == nil {
		t.Error("BuildDB without records succeeded")
	}
	if err := BuildDB(ctx, []Record{{ID: "CVE-2099-1", Namespace: "alpine", Package: "musl"}}, dir); err == nil {
		t.Error("BuildDB with a bad namespace succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed build left %v in the database directory", entries)
	}
}

func FuzzParseRecords(f *testing.F) {
	f.Add([]byte(recordsYAML))
	f.Add([]byte(`[{"id":"CVE-1","namespace":"debian:12","package":"p","fixedIn":"1.0-1","severity":"low"}]`))
	f.Add([]byte("- {id: X-1, namespace: 'ubuntu:24.04', package: p, severity: unknown}\n"))
	f.Add([]byte("- {id: X-1, namespace: 'wolfi:rolling', package: p, severity: negligible}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := parseRecords(b)
		if err != nil {
			return
		}
		if len(rs) == 0 {
			t.Fatal("no records and no error")
		}
		if err := checkRecords(rs); err != nil {
			t.Fatalf("parsed records do not validate: %v", err)
		}
		// what was read is written and read back the same
		out, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseRecords(out)
		if err != nil {
			t.Fatalf("records written as JSON do not parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(rs, again); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}
