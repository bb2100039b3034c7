package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/check"
)

func TestPatchesParse(t *testing.T) {
	p, err := Parse([]byte(header + `patches:
  line: minor
  eligible: {fixes: critical, olderThanDays: 14}
  windows:
    - {days: [mon, Fri], start: "02:00", end: "04:00", timezone: Europe/Berlin}
  approvals: {from: [alice], count: 2, file: approvals.txt}
  layers: [1, harden]
  timeout: 5s
  regressionWindow: 72h
  owners:
    - {path: services/api/, owners: ["@org/api"]}
  sla: {critical: 12h}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Patches{Line: "minor", Eligible: PatchEligibility{Fixes: "critical", OlderThanDays: 14},
		Windows:   []Window{{Days: []string{"mon", "Fri"}, Start: "02:00", End: "04:00", Timezone: "Europe/Berlin"}},
		Approvals: Approvals{From: []string{"alice"}, Count: 2, File: "approvals.txt"},
		Layers:    []string{"1", "harden"}, Timeout: 5 * time.Second, RegressionWindow: 72 * time.Hour,
		Owners: []OwnerRule{{Path: "services/api/", Owners: []string{"@org/api"}}}, SLA: map[string]time.Duration{"critical": 12 * time.Hour}}
	if d := cmp.Diff(want, p.Patches); d != "" {
		t.Errorf("patches (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]check.Layer{check.L1Diff, check.L5Harden}, p.Patches.MustPass()); d != "" {
		t.Errorf("MustPass (-want +got):\n%s", d)
	}
	if p.Patches.LineKind() != "minor" || p.Patches.FixesSeverity() != "critical" || p.Patches.RequestTimeout() != 5*time.Second || p.Patches.Regression() != 72*time.Hour {
		t.Errorf("accessors of %+v", p.Patches)
	}
	if d := p.Patches.Deadlines(); d["critical"] != 12*time.Hour || d["high"] != 7*24*time.Hour || d["low"] != 90*24*time.Hour {
		t.Errorf("Deadlines: %v, want critical 12h over the defaults", d)
	}
	var zero Patches
	if zero.LineKind() != "patch" || zero.FixesSeverity() != "high" || zero.RequestTimeout() != DefaultPatchTimeout ||
		zero.Regression() != DefaultRegressionWindow || zero.MustPass() != nil {
		t.Error("defaults of an empty patch section")
	}
}

func TestPatchesProblems(t *testing.T) {
	_, err := Parse([]byte(header + `patches:
  line: major
  eligible: {fixes: severe, olderThanDays: -1}
  windows:
    - {days: [monday], start: "2:00", end: "25:00", timezone: Mars/Olympus}
  approvals: {from: [alice, alice, "bo b"], count: -2}
  layers: [1, 1, nine]
  timeout: -1s
  regressionWindow: -1h
  owners: [{path: "", owners: ["@a"]}]
  sla: {critical: 0s, severe: 1h}
  approval: x
`))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`patches.line: "major": use patch or minor`,
		`patches.eligible.fixes: unknown severity "severe"`,
		"patches.eligible.olderThanDays: -1 is negative",
		`patches.windows[0].days[0]: "monday"`,
		`patches.windows[0].start: "2:00": want a clock time`,
		`patches.windows[0].end: "25:00"`,
		`patches.windows[0].timezone: "Mars/Olympus"`,
		`patches.approvals.from[1]: "alice" given twice`,
		`patches.approvals.from[2]: "bo b": a name has no spaces`,
		"patches.approvals.count: -2 is negative",
		"patches.layers[1]: L1 diff given twice",
		"patches.layers[2]:",
		"patches.timeout: -1s is negative",
		"patches.regressionWindow: -1h0m0s is negative",
		"patches.approval: unknown field",
		"patches.owners[0].path: empty",
		"patches.sla.critical: 0s is not positive",
		"patches.sla.severe: unknown severity",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:00", 0, true},
		{"02:30", 2*time.Hour + 30*time.Minute, true},
		{"23:59", 23*time.Hour + 59*time.Minute, true},
		{"24:00", 24 * time.Hour, true},
		{"24:01", 0, false},
		{"2:00", 0, false},
		{"02:60", 0, false},
		{"-1:00", 0, false},
		{"+1:00", 0, false},
		{"0200", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseClock(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"02:00", "24:00", "9:5", "ab:cd", "+1:+1", "99:99", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseClock(s)
		if err == nil && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("ParseClock(%q) = %v, outside a day", s, d)
		}
	})
}

func TestWindowContains(t *testing.T) {
	// 2026-03-02 is a Monday.
	at := func(day, h, m int, loc *time.Location) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, loc) }
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		w    Window
		t    time.Time
		want bool
	}{
		{"inside", Window{Days: []string{"mon"}, Start: "02:00", End: "04:00"}, at(2, 3, 0, time.UTC), true},
		{"at the start", Window{Start: "02:00", End: "04:00"}, at(2, 2, 0, time.UTC), true},
		{"at the end", Window{Start: "02:00", End: "04:00"}, at(2, 4, 0, time.UTC), false},
		{"other day", Window{Days: []string{"tue"}, Start: "02:00", End: "04:00"}, at(2, 3, 0, time.UTC), false},
		{"day in any case", Window{Days: []string{"MON"}, Start: "02:00", End: "04:00"}, at(2, 3, 0, time.UTC), true},
		{"time zone", Window{Start: "02:00", End: "04:00", Timezone: "Europe/Berlin"}, at(2, 1, 30, time.UTC), true},
		{"time zone outside", Window{Start: "02:00", End: "04:00", Timezone: "Europe/Berlin"}, at(2, 3, 30, time.UTC), false},
		{"across midnight, after", Window{Days: []string{"fri"}, Start: "22:00", End: "02:00"}, at(6, 23, 0, time.UTC), true},
		{"across midnight, next day", Window{Days: []string{"fri"}, Start: "22:00", End: "02:00"}, at(7, 1, 0, time.UTC), true},
		{"across midnight, wrong day", Window{Days: []string{"fri"}, Start: "22:00", End: "02:00"}, at(6, 1, 0, time.UTC), false},
		{"whole day", Window{Days: []string{"sun"}, Start: "00:00", End: "00:00"}, at(8, 13, 0, berlin), true},
	}
	for _, tc := range tests {
		if got := tc.w.Contains(tc.t); got != tc.want {
			t.Errorf("%s: %v.Contains(%v) = %v, want %v", tc.name, tc.w, tc.t, got, tc.want)
		}
	}
	p := Patches{Windows: []Window{{Days: []string{"sat"}, Start: "01:00", End: "03:00"}}}
	if ok, why := p.InWindow(at(2, 2, 0, time.UTC)); ok || why != "sat 01:00-03:00 UTC" {
		t.Errorf("InWindow = %v, %q", ok, why)
	}
	if ok, _ := (Patches{}).InWindow(at(2, 2, 0, time.UTC)); !ok {
		t.Error("no windows: not always open")
	}
}

func TestMissingApprovals(t *testing.T) {
	tests := []struct {
		a    Approvals
		by   []string
		want string
	}{
		{Approvals{}, nil, ""},
		{Approvals{From: []string{"alice"}}, []string{"alice"}, ""},
		{Approvals{From: []string{"alice", "bob"}}, []string{"alice"}, "needs the approval of bob"},
		{Approvals{Count: 2}, []string{"alice", "alice", " "}, "needs 2 approvals, has 1"},
		{Approvals{From: []string{"carol"}, Count: 2}, []string{"dave"}, "needs the approval of carol; needs 2 approvals, has 1"},
	}
	for _, tc := range tests {
		if got := tc.a.MissingApprovals(tc.by); got != tc.want {
			t.Errorf("%+v.MissingApprovals(%q) = %q, want %q", tc.a, tc.by, got, tc.want)
		}
	}
}

func FuzzParsePatches(f *testing.F) {
	f.Add([]byte(header + "patches:\n  line: minor\n  windows:\n    - {days: [mon], start: \"22:00\", end: \"02:00\", timezone: Europe/Berlin}\n"))
	f.Add([]byte(header + "patches: {eligible: {fixes: none, olderThanDays: 3}, approvals: {from: [a, a], count: -1}}\n"))
	f.Add([]byte(header + "patches: {windows: [{start: \"24:00\", end: \"00:00\"}], layers: [], timeout: 1ns}\n"))
	f.Add([]byte(header + "patches: {windows: [{days: [sun, SUN]}], regressionWindow: x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		switch {
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Fatalf("error without ErrInvalid: %v", err)
		case err == nil:
			now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
			p.Patches.InWindow(now)
			p.Patches.MustPass()
			_ = p.Patches.Approvals.MissingApprovals([]string{"a"})
		}
	})
}
