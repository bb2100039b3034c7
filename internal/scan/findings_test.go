package scan

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeverity(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"critical", Critical, true}, {"HIGH", High, true}, {" Medium ", Medium, true}, {"low", Low, true},
		{"Negligible", Negligible, true}, {"UNKNOWN", Unknown, true},
		{"", Unknown, false}, {"severe", Unknown, false}, {"hi", Unknown, false},
	} {
		got, err := ParseSeverity(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if !(Unknown < Negligible && Negligible < Low && Low < Medium && Medium < High && High < Critical) {
		t.Error("severities are not ordered from least to most severe")
	}
	b, err := json.Marshal(map[string]Severity{"s": High})
	if err != nil || string(b) != `{"s":"high"}` {
		t.Errorf("json = %s, %v", b, err)
	}
	var s Severity
	if err := json.Unmarshal([]byte(`"CRITICAL"`), &s); err != nil || s != Critical {
		t.Errorf("unmarshal = %v, %v", s, err)
	}
	if err := json.Unmarshal([]byte(`"bad"`), &s); err == nil {
		t.Error("unmarshal of an unknown severity succeeded")
	}
	if got := Severity(9).String(); got != "severity(9)" {
		t.Errorf("String of an out-of-range severity = %q", got)
	}
}

func TestFindingIs(t *testing.T) {
	f := Finding{ID: "GHSA-jfh8-c2jp-5v3q", Aliases: []string{"CVE-2021-44228"}}
	for id, want := range map[string]bool{"GHSA-jfh8-c2jp-5v3q": true, "cve-2021-44228": true, "CVE-2021-45046": false, "": false} {
		if got := f.Is(id); got != want {
			t.Errorf("Is(%q) = %v, want %v", id, got, want)
		}
	}
}

func fnd(id string, sev Severity, pkg, version string, aliases ...string) Finding {
	return Finding{ID: id, Aliases: aliases, Severity: sev, Package: pkg, Version: version, Type: "apk"}
}

func TestDiffFindings(t *testing.T) {
	muslCrit := fnd("CVE-2025-0001", Critical, "musl", "1.2.4_git20230717-r4")
	bbHighOld := fnd("CVE-2025-0002", High, "busybox", "1.36.1-r19")
	bbHighNew := fnd("CVE-2025-0002", High, "busybox", "1.36.1-r29")
	zlibLow := fnd("CVE-2025-0003", Low, "zlib", "1.3.1-r1")
	tests := []struct {
		name     string
		old, new []Finding
		want     VulnDelta
	}{
		{"none", nil, nil, VulnDelta{}},
		{"fixed, persisting at a new version, introduced",
			[]Finding{muslCrit, bbHighOld}, []Finding{zlibLow, bbHighNew},
			VulnDelta{
				Introduced: []Finding{zlibLow}, Fixed: []Finding{muslCrit}, Persisting: []Finding{bbHighNew},
				IntroducedCounts: SeverityCounts{Low: 1}, FixedCounts: SeverityCounts{Critical: 1}, PersistingCounts: SeverityCounts{High: 1},
			}},
		{"a GHSA in one report is its CVE in the other",
			[]Finding{fnd("GHSA-jfh8-c2jp-5v3q", Critical, "log4j-core", "2.14.1", "CVE-2021-44228")},
			[]Finding{fnd("CVE-2021-44228", Critical, "log4j-core", "2.15.0")},
			VulnDelta{Persisting: []Finding{fnd("CVE-2021-44228", Critical, "log4j-core", "2.15.0")}, PersistingCounts: SeverityCounts{Critical: 1}}},
		{"the same CVE in another package is another finding",
			[]Finding{fnd("CVE-2024-5535", Medium, "libssl3", "3.1.7-r0")},
			[]Finding{fnd("CVE-2024-5535", Medium, "libcrypto3", "3.3.2-r0")},
			VulnDelta{
				Introduced: []Finding{fnd("CVE-2024-5535", Medium, "libcrypto3", "3.3.2-r0")}, Fixed: []Finding{fnd("CVE-2024-5535", Medium, "libssl3", "3.1.7-r0")},
				IntroducedCounts: SeverityCounts{Medium: 1}, FixedCounts: SeverityCounts{Medium: 1},
			}},
		{"sorted worst first, then by ID; IDs match in any case",
			[]Finding{fnd("cve-2025-0009", High, "musl", "1")},
			[]Finding{fnd("CVE-2025-0010", Low, "zlib", "1"), fnd("CVE-2025-0011", Critical, "zlib", "1"), fnd("CVE-2025-0009", High, "musl", "2"), fnd("CVE-2025-0008", Critical, "zlib", "1")},
			VulnDelta{
				Introduced:       []Finding{fnd("CVE-2025-0008", Critical, "zlib", "1"), fnd("CVE-2025-0011", Critical, "zlib", "1"), fnd("CVE-2025-0010", Low, "zlib", "1")},
				Persisting:       []Finding{fnd("CVE-2025-0009", High, "musl", "2")},
				IntroducedCounts: SeverityCounts{Critical: 2, Low: 1}, PersistingCounts: SeverityCounts{High: 1},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DiffFindings(tt.old, tt.new)); diff != "" {
				t.Errorf("DiffFindings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSeverityCounts(t *testing.T) {
	c := CountSeverities([]Finding{{Severity: Critical}, {Severity: High}, {Severity: High}, {Severity: Medium}, {Severity: Unknown}, {Severity: Negligible}})
	if want := (SeverityCounts{Critical: 1, High: 2, Medium: 1, Negligible: 1, Unknown: 1}); c != want {
		t.Fatalf("counts = %+v, want %+v", c, want)
	}
	for s, want := range map[Severity]int{Critical: 1, High: 3, Medium: 4, Low: 4, Negligible: 5, Unknown: 6} {
		if got := c.AtLeast(s); got != want {
			t.Errorf("AtLeast(%s) = %d, want %d", s, got, want)
		}
	}
}
