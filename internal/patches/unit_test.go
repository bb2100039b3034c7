package patches

import (
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/scan"
)

func TestInLine(t *testing.T) {
	tests := []struct {
		repo, cur, cand, line string
		want                  bool
	}{
		{"alpine", "3.19.1", "3.19.4", "patch", true},
		{"alpine", "3.19.4", "3.19.1", "patch", false}, // older
		{"alpine", "3.19.1", "3.19.1", "patch", false},
		{"alpine", "3.19.1", "3.20.3", "patch", false}, // another release of the distribution
		{"alpine", "3.19.1", "3.20.3", "minor", false},
		{"alpine", "3.19.1", "3.19", "patch", false}, // another precision
		{"alpine", "3.19", "3.20", "minor", false},
		{"python", "3.12.1-slim", "3.12.4-slim", "patch", true},
		{"python", "3.12.1-slim", "3.12.4", "patch", false}, // another flavor
		{"python", "3.12.1-slim", "3.13.0-slim", "patch", false},
		{"python", "3.12.1-slim", "3.13.0-slim", "minor", true},
		{"python", "3.12.1-slim", "4.0.0-slim", "minor", false},
		{"python", "3.12.1-alpine3.19", "3.12.2-alpine3.20", "minor", false}, // another base release
		{"python", "3.12.1-alpine3.19", "3.12.2-alpine3.19", "patch", true},
		{"shop/api", "v1.4.2", "v1.4.10", "patch", true},
		{"shop/api", "v1.4.2", "1.4.10", "patch", false}, // another prefix
		{"shop/api", "1.4.2", "latest", "patch", false},
		{"node", "20.11.0", "20.12.0", "patch", false},
		{"node", "20.11.0", "20.12.0", "minor", true},
	}
	for _, tc := range tests {
		cur, ok := plan.ParseTagVersion(tc.cur)
		if !ok {
			t.Fatalf("%s: no version", tc.cur)
		}
		if _, got := inLine(tc.repo, tc.cur, cur, tc.cand, tc.line); got != tc.want {
			t.Errorf("inLine(%s, %s → %s, line %s) = %v, want %v", tc.repo, tc.cur, tc.cand, tc.line, got, tc.want)
		}
	}
}

func TestEligible(t *testing.T) {
	now := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	since := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }
	tests := []struct {
		name string
		pol  config.Patches
		c    Candidate
		want bool
		why  string
	}{
		{"fixes a high", config.Patches{}, Candidate{HighestFixed: scan.High, AvailableSince: since(0)}, true,
			"fixes a high vulnerability (high or worse makes a patch eligible)"},
		{"fixes a critical", config.Patches{}, Candidate{HighestFixed: scan.Critical}, true,
			"fixes a critical vulnerability (high or worse makes a patch eligible)"},
		{"fixes a medium", config.Patches{}, Candidate{HighestFixed: scan.Medium}, false, "fixes nothing worse than medium (needs high)"},
		{"fixes nothing", config.Patches{}, Candidate{}, false, "fixes no known vulnerability"},
		{"critical only", config.Patches{Eligible: config.PatchEligibility{Fixes: "critical"}}, Candidate{HighestFixed: scan.High}, false,
			"fixes nothing worse than high (needs critical)"},
		{"old enough", config.Patches{Eligible: config.PatchEligibility{OlderThanDays: 14}}, Candidate{AvailableSince: since(14)}, true,
			"available for 14 days (14 or more makes any patch eligible)"},
		{"not old enough", config.Patches{Eligible: config.PatchEligibility{OlderThanDays: 14}}, Candidate{AvailableSince: since(13)}, false,
			"fixes no known vulnerability; available for 13 days, not yet 14"},
		{"none", config.Patches{Eligible: config.PatchEligibility{Fixes: "none"}}, Candidate{HighestFixed: scan.Critical}, false,
			"the policy makes no patch eligible"},
	}
	for _, tc := range tests {
		got, why := eligible(tc.pol, tc.c, now)
		if got != tc.want || why != tc.why {
			t.Errorf("%s: eligible = %v, %q; want %v, %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}
