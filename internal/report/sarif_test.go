package report

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// sarifSchema compiles the OASIS SARIF 2.1.0 JSON schema kept in testdata (as published at
// docs.oasis-open.org, errata 01).
func sarifSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func encodeSARIF(t testing.TB, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (SARIF{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func validateSARIF(t testing.TB, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	s := sarifSchema(t)
	reports := map[string]*Report{"l1-data": dataFixture(), "hostile": hostileReport(hostile, 0)}
	for _, fx := range fixtures() {
		reports[fx.name] = fx.rep
	}
	for name, r := range reports {
		if err := validateSARIF(t, s, encodeSARIF(t, r)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The validator does reject what breaks the schema.
	for _, broken := range []string{
		`{"version": "2.1.0"}`,
		`{"version": "2.0.0", "runs": []}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "severe", "message": {"text": "m"}}]}]}`,
	} {
		if err := validateSARIF(t, s, []byte(broken)); err == nil {
			t.Errorf("schema accepts %s", broken)
		}
	}
}

func TestSARIFIntroducedFindings(t *testing.T) {
	var log sarifLog
	if err := json.Unmarshal(encodeSARIF(t, dataFixture()), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, " "); got != "CVE-2024-5535 CVE-2024-6119 CVE-2024-9143 GHSA-xxxx-yyyy-zzzz" {
		t.Errorf("rules %s", got)
	}
	wantRule := map[string][3]string{
		"CVE-2024-5535":       {"error", "9.5", "https://nvd.nist.gov/vuln/detail/CVE-2024-5535"},
		"CVE-2024-6119":       {"error", "8.0", "https://nvd.nist.gov/vuln/detail/CVE-2024-6119"},
		"CVE-2024-9143":       {"note", "2.0", "https://nvd.nist.gov/vuln/detail/CVE-2024-9143"},
		"GHSA-xxxx-yyyy-zzzz": {"warning", "5.5", "https://github.com/advisories/GHSA-xxxx-yyyy-zzzz"},
	}
	for _, r := range run.Tool.Driver.Rules {
		w := wantRule[r.ID]
		if r.DefaultConfiguration.Level != w[0] || r.Properties.SecuritySeverity != w[1] || r.HelpURI != w[2] {
			t.Errorf("rule %s: level %s, security-severity %s, help %s; want %v", r.ID, r.DefaultConfiguration.Level, r.Properties.SecuritySeverity, r.HelpURI, w)
		}
	}
	if len(run.Results) != 5 {
		t.Fatalf("%d results, want 5 (one per introduced finding)", len(run.Results))
	}
	seen := map[string]bool{}
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule %d", res.RuleID, res.RuleIndex)
		}
		if uri := res.Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "alpine" {
			t.Errorf("location %q, want the new image's repository", uri)
		}
		fp := res.PartialFingerprints[sarifFingerprintKey]
		if fp == "" || seen[fp] {
			t.Errorf("fingerprint %q missing or shared", fp)
		}
		seen[fp] = true
	}
	// The fixed and persisting findings are not results.
	if b := encodeSARIF(t, dataFixture()); bytes.Contains(b, []byte("CVE-2023-0464")) || bytes.Contains(b, []byte("CVE-2019-0001")) {
		t.Errorf("fixed or persisting findings in the SARIF log")
	}
}

// TestSARIFFingerprintsAreStable: a rebuild (another digest, tag and package version) keeps
// each finding's fingerprint.
func TestSARIFFingerprintsAreStable(t *testing.T) {
	fps := func(r *Report) []string {
		var log sarifLog
		if err := json.Unmarshal(encodeSARIF(t, r), &log); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, res := range log.Runs[0].Results {
			out = append(out, res.PartialFingerprints[sarifFingerprintKey])
		}
		return out
	}
	a := dataFixture()
	b := dataFixture()
	b.New.Ref, b.New.Name, b.New.Digest, b.RunID = "alpine:3.20.4", "alpine:3.20.4", digestOld, "other"
	data := b.Layers[0].Results[2].Data.(map[string]any)
	delta := data["delta"].(scan.VulnDelta)
	delta.Introduced = append([]scan.Finding(nil), delta.Introduced...)
	for i := range delta.Introduced {
		delta.Introduced[i].Version += ".1"
	}
	data["delta"] = delta
	if got, want := strings.Join(fps(b), ","), strings.Join(fps(a), ","); got != want {
		t.Errorf("fingerprints changed with the version:\n%s\n%s", got, want)
	}
	b.New.Name = "registry.example.com/other"
	if got, want := fps(b)[0], fps(a)[0]; got == want {
		t.Errorf("fingerprint is the same for another repository")
	}
}

func TestSARIFWithoutDelta(t *testing.T) {
	for _, fx := range fixtures() {
		var log sarifLog
		if err := json.Unmarshal(encodeSARIF(t, fx.rep), &log); err != nil {
			t.Fatal(err)
		}
		if len(log.Runs) != 1 || len(log.Runs[0].Results) != 0 || len(log.Runs[0].Tool.Driver.Rules) != 0 {
			t.Errorf("%s: want one run with no rules and no results: %+v", fx.name, log)
		}
	}
}

func TestSARIFImageURI(t *testing.T) {
	for _, tc := range []struct {
		s    Subject
		want string
	}{
		{Subject{Ref: "registry.example.com/shop/api:1.4.3"}, "registry.example.com/shop/api"},
		{Subject{Ref: "x", Name: "alpine:3.20.3"}, "alpine"},
		{Subject{Ref: "localhost:5000/app@sha256:abc"}, "localhost%3A5000/app"},
		{Subject{Ref: "localhost:5000/app:1@sha256:abc"}, "localhost%3A5000/app"},
		{Subject{Ref: "oci-dir:./build/payments"}, "build/payments"},
		{Subject{Ref: "docker-daemon:alpine:3.20"}, "alpine"},
		{Subject{Ref: "docker-archive:///tmp/a b.tar"}, "tmp/a%20b.tar"},
		{Subject{Ref: "../../etc/passwd"}, "etc/passwd"},
		{Subject{}, "container-image"},
	} {
		if got := sarifImageURI(&tc.s); got != tc.want {
			t.Errorf("sarifImageURI(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
