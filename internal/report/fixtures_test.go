package report

import (
	"fmt"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// The fixtures are reports as the gate builds them, with fixed times and run ids; their
// verdicts come from verdict.Decide over their layers, as in a real run.

var fixtureStart = time.Date(2024, 9, 12, 8, 30, 0, 0, time.UTC)

const (
	digestOld = "sha256:1f6c9a0e0f1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"
	digestNew = "sha256:9e2b7c4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
)

// fixture is one named report.
type fixture struct {
	name string
	rep  *Report
}

func fixtures() []fixture {
	return []fixture{
		{"go-patch", goPatch()},
		{"nogo-distro", noGoDistro()},
		{"first-deploy-error", firstDeployError()},
	}
}

// decide sets the verdict of r from its layers, as the gate does.
func decide(r *Report, required []check.Layer) {
	var runs []verdict.LayerRun
	var results []check.Result
	for _, l := range r.Layers {
		switch l.State {
		case StateRan:
			runs = append(runs, verdict.LayerRun{Layer: l.Layer, Ran: true})
		case StateExcluded:
			runs = append(runs, verdict.LayerRun{Layer: l.Layer, Excluded: true, Why: l.Why})
		case StateNotRun:
			runs = append(runs, verdict.LayerRun{Layer: l.Layer, Why: l.Why})
		}
		results = append(results, l.Results...)
	}
	r.Verdict = verdict.Decide(verdict.Policy{Required: required, Promotion: r.Plan.Promotion}, runs, results)
}

// layers returns all six layers: those in ran with their results, the rest in the given state.
func layers(ran map[check.Layer][]check.Result, dur map[check.Layer]time.Duration, other map[check.Layer][2]string) []Layer {
	var out []Layer
	for _, l := range check.AllLayers {
		rl := Layer{Layer: l, Name: l.Name(), Results: []check.Result{}}
		if rs, ok := ran[l]; ok {
			rl.State, rl.Duration = StateRan, Duration(dur[l])
			for i := range rs {
				rs[i].Layer = l
				rl.Status = check.Worst(rl.Status, rs[i].Status)
			}
			rl.Results = rs
		} else {
			st := other[l]
			rl.State, rl.Why, rl.Status = st[0], st[1], check.StatusSkipped
		}
		out = append(out, rl)
	}
	return out
}

var notPlanned = [2]string{StateNotPlanned, "not called for by the plan"}
var notBuilt = [2]string{StateNotRun, "not available in this build of plimsoll"}

func goPatch() *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "plimsoll", Version: "0.4.0"},
		RunID:         "20240912T083000Z-5c1e7a",
		StartedAt:     fixtureStart,
		FinishedAt:    fixtureStart.Add(47*time.Second + 310*time.Millisecond),
		Timings: &Timings{Resolve: Duration(1200 * time.Millisecond), Facts: Duration(310 * time.Millisecond),
			Inventory: Duration(2*time.Second + 40*time.Millisecond), Match: Duration(420 * time.Millisecond),
			Diff: Duration(3 * time.Millisecond), Encode: Duration(12 * time.Millisecond)},
		Old: &Subject{Ref: "registry.example.com/shop/api:1.4.2", Name: "registry.example.com/shop/api:1.4.2", Transport: "registry", Digest: digestOld},
		New: Subject{Ref: "registry.example.com/shop/api:1.4.3", Name: "registry.example.com/shop/api:1.4.3", Transport: "registry", Digest: digestNew},
		Plan: Plan{Kind: "patch", Risk: "low", Budget: Duration(15 * time.Minute),
			Layers:    []check.Layer{check.L1Diff, check.L2Smoke, check.L4Perf, check.L5Harden},
			Promotion: "L1 diff + L2 smoke + L5 harden pass; no new critical/high vulnerabilities",
			Reasons: []string{
				`tag "1.4.2"→"1.4.3": 1.4.2→1.4.3 (patch)`,
				"os-release alpine 3.20.2→3.20.3: a patch release (patch)",
			}},
	}
	r.Layers = layers(map[check.Layer][]check.Result{
		check.L1Diff: {
			{Check: "packages", Status: check.StatusPass, Message: "3 package changes, none unexpected",
				Measured: "0 added, 0 removed, 3 upgraded, 0 downgraded, 0 renamed", Baseline: "16 packages in old, 16 in new",
				Threshold: "no unexpected removal or downgrade", Source: "package databases read by syft",
				Tables: []check.Table{{Title: "Package changes", Columns: []string{"change", "package", "type", "old", "new", "critical"},
					Rows: [][]string{
						{"upgraded", "libcrypto3", "apk", "3.3.1-r3", "3.3.2-r0", "openssl"},
						{"upgraded", "libssl3", "apk", "3.3.1-r3", "3.3.2-r0", "openssl"},
						{"upgraded", "busybox", "apk", "1.36.1-r28", "1.36.1-r29", ""},
					}}}},
			{Check: "config", Status: check.StatusPass, Message: "no change",
				Threshold: "same platform; user, entrypoint, cmd, workdir and ports unchanged", Source: "image config"},
			{Check: "vulnerabilities", Status: check.StatusPass, Message: "2 fixed, 0 introduced, 1 persisting",
				Measured: "new: 1 medium", Baseline: "old: 2 high, 1 medium",
				Threshold: "no new findings at or above high; no more findings in total", Source: "grype database /var/cache/plimsoll/grype",
				Tables: []check.Table{{Title: "Fixed vulnerabilities", Columns: []string{"id", "severity", "package", "version", "fixed in"},
					Rows: [][]string{
						{"CVE-2024-6119", "high", "libcrypto3", "3.3.1-r3", "3.3.2-r0"},
						{"CVE-2024-6119", "high", "libssl3", "3.3.1-r3", "3.3.2-r0"},
					}}},
				Data: map[string]any{"fixed": 2, "introduced": 0, "persisting": 1}},
		},
		check.L2Smoke: {
			{Check: "start", Status: check.StatusPass, Message: "started and stayed up for 5s", Measured: "1.21s to running", Source: "docker engine"},
			{Check: "health", Status: check.StatusPass, Message: "GET /healthz answered 200", Measured: "200 in 14ms", Threshold: "2xx within 10s"},
		},
		check.L5Harden: {
			{Check: "non-root", Status: check.StatusPass, Message: `runs as user "app" (uid 10001)`, Measured: "uid 10001", Baseline: "uid 10001", Source: "image config"},
		},
	}, map[check.Layer]time.Duration{
		check.L1Diff: 31*time.Second + 870*time.Millisecond, check.L2Smoke: 9*time.Second + 402*time.Millisecond,
		check.L5Harden: 412 * time.Millisecond,
	}, map[check.Layer][2]string{
		check.L3Functional: notPlanned, check.L4Perf: {StateExcluded, "narrowed away by --layers"}, check.L6Soak: notPlanned,
	})
	decide(r, []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden})
	return r
}

func noGoDistro() *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "plimsoll", Version: "0.4.0"},
		RunID:         "20240912T091500Z-a07f3b",
		StartedAt:     fixtureStart,
		FinishedAt:    fixtureStart.Add(2*time.Minute + 4*time.Second),
		Old:           &Subject{Ref: "alpine:3.19.4", Name: "alpine:3.19.4", Transport: "docker", Digest: digestOld},
		New:           Subject{Ref: "alpine:3.20.3", Name: "alpine:3.20.3", Transport: "docker", Digest: digestNew},
		Plan: Plan{Kind: "distro", Risk: "high", Budget: Duration(72 * time.Hour), Layers: check.AllLayers,
			Promotion: "L2 smoke + L3 functional + L4 perf + L5 harden + L6 soak pass; metrics within 15 % of the old image; a soak of at least 48h; no memory leak over the soak",
			Reasons: []string{
				`tag "3.19.4"→"3.20.3": base alpine 3.19→3.20, a new release (distro) (riskier reading wins)`,
				"os-release alpine 3.19.4→3.20.3: a new release (distro)",
				"libc musl 1.2.4_git20230717-r4→1.2.5-r0: a new release (distro)",
				"OpenSSL 3.1.7-r0→3.3.2-r0: a new minor release (minor)",
			}},
	}
	pkgRows := [][]string{
		{"removed", "scanelf", "apk", "1.3.7-r2", "", ""},
		{"upgraded", "musl", "apk", "1.2.4_git20230717-r4", "1.2.5-r0", "libc"},
		{"upgraded", "musl-utils", "apk", "1.2.4_git20230717-r4", "1.2.5-r0", "libc"},
		{"upgraded", "libcrypto3", "apk", "3.1.7-r0", "3.3.2-r0", "openssl"},
		{"upgraded", "libssl3", "apk", "3.1.7-r0", "3.3.2-r0", "openssl"},
		{"upgraded", "busybox", "apk", "1.36.1-r19", "1.36.1-r29", ""},
		{"upgraded", "busybox-binsh", "apk", "1.36.1-r19", "1.36.1-r29", ""},
		{"upgraded", "ssl_client", "apk", "1.36.1-r19", "1.36.1-r29", ""},
		{"upgraded", "alpine-baselayout", "apk", "3.4.3-r2", "3.6.5-r0", ""},
		{"upgraded", "alpine-baselayout-data", "apk", "3.4.3-r2", "3.6.5-r0", ""},
		{"upgraded", "alpine-release", "apk", "3.19.4-r0", "3.20.3-r0", ""},
		{"upgraded", "apk-tools", "apk", "2.14.4-r0", "2.14.4-r1", ""},
		{"upgraded", "zlib", "apk", "1.3.1-r0", "1.3.1-r1", ""},
		{"added", "libapk2", "apk", "", "2.14.4-r1", ""},
		{"added", "ca-certificates-bundle", "apk", "", "20240705-r0", ""},
	}
	r.Layers = layers(map[check.Layer][]check.Result{
		check.L1Diff: {
			{Check: "packages", Status: check.StatusWarn,
				Message:  "unexpected removal: scanelf; critical components changed: musl 1.2.4_git20230717-r4 → 1.2.5-r0 (libc), musl-utils 1.2.4_git20230717-r4 → 1.2.5-r0 (libc), libcrypto3 3.1.7-r0 → 3.3.2-r0 (openssl), libssl3 3.1.7-r0 → 3.3.2-r0 (openssl)",
				Measured: "2 added, 1 removed, 12 upgraded, 0 downgraded, 0 renamed", Baseline: "15 packages in old, 16 in new",
				Threshold: "no unexpected removal or downgrade", Source: "package databases read by syft",
				Tables: []check.Table{{Title: "Package changes", Columns: []string{"change", "package", "type", "old", "new", "critical"}, Rows: pkgRows}}},
			{Check: "config", Status: check.StatusPass, Message: "no change",
				Threshold: "same platform; user, entrypoint, cmd, workdir and ports unchanged", Source: "image config"},
			{Check: "vulnerabilities", Status: check.StatusFail,
				Message:  "2 new at or above high: CVE-2024-5535 (critical, libssl3), CVE-2024-6119 (high, libcrypto3)",
				Measured: "new: 1 critical, 1 high, 1 medium", Baseline: "old: none",
				Threshold: "no new findings at or above high; no more findings in total", Source: "grype database /var/cache/plimsoll/grype",
				Tables: []check.Table{{Title: "Introduced vulnerabilities", Columns: []string{"id", "severity", "package", "version", "fixed in"},
					Rows: [][]string{
						{"CVE-2024-5535", "critical", "libssl3", "3.3.2-r0", ""},
						{"CVE-2024-6119", "high", "libcrypto3", "3.3.2-r0", "3.3.2-r1"},
						{"CVE-2024-9143", "medium", "libcrypto3", "3.3.2-r0", "3.3.2-r2"},
					}}},
				Data: map[string]any{"introduced": []any{"CVE-2024-5535", "CVE-2024-6119", "CVE-2024-9143"}}},
		},
	}, map[check.Layer]time.Duration{check.L1Diff: 2*time.Minute + 1*time.Second + 250*time.Millisecond},
		map[check.Layer][2]string{
			check.L2Smoke: notBuilt, check.L3Functional: notBuilt, check.L4Perf: notBuilt, check.L5Harden: notBuilt, check.L6Soak: notBuilt,
		})
	decide(r, []check.Layer{check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden, check.L6Soak})
	return r
}

func firstDeployError() *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "plimsoll", Version: "0.4.0"},
		RunID:         "20240912T101000Z-0b9d24",
		StartedAt:     fixtureStart,
		FinishedAt:    fixtureStart.Add(6*time.Second + 80*time.Millisecond),
		New:           Subject{Ref: "oci-dir:./build/payments", Name: "payments:2.0.0", Transport: "oci-dir", Digest: digestNew},
		Plan: Plan{Kind: "custom", Risk: "unknown", Budget: Duration(time.Hour),
			Layers:    []check.Layer{check.L1Diff, check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden},
			Promotion: "L1 diff + L2 smoke + L3 functional + L4 perf + L5 harden pass; full regression of the new image alone",
			Reasons:   []string{"no old image: a first deployment, the new image is judged alone (custom)"}},
	}
	r.Layers = layers(map[check.Layer][]check.Result{
		check.L1Diff: {
			{Check: "packages", Status: check.StatusPass, Message: "first deployment: 42 packages",
				Measured: "42 added, 0 removed, 0 upgraded, 0 downgraded, 0 renamed", Threshold: "no unexpected removal or downgrade",
				Source: "package databases read by syft"},
			{Check: "config", Status: check.StatusPass, Message: `first deployment: linux/amd64, user "10001", entrypoint "/usr/local/bin/payments"`,
				Threshold: "same platform; user, entrypoint, cmd, workdir and ports unchanged", Source: "image config"},
			{Check: "vulnerabilities", Status: check.StatusError,
				Message: "load grype database /var/cache/plimsoll/grype: no vulnerability database found: run `plimsoll vulndb update` or pass --vuln-db"},
		},
	}, map[check.Layer]time.Duration{check.L1Diff: 5*time.Second + 930*time.Millisecond},
		map[check.Layer][2]string{
			check.L2Smoke: notBuilt, check.L3Functional: notBuilt, check.L4Perf: notBuilt, check.L5Harden: notBuilt, check.L6Soak: notPlanned,
		})
	decide(r, []check.Layer{check.L1Diff, check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden})
	return r
}

// hostile is a string made of what breaks reports: markup, table separators, CDATA ends,
// terminal escapes, control characters, bidi overrides, invalid UTF-8 and backticks.
const hostile = "<script>alert(1)</script> a|b ]]> `code` \x1b[31mred\x1b[0m \x00\x07\x08\x0b\x0c\x7f\u0085\u009b\u202eevil\u202c \xff\xfe *bold* _it_ [x](javascript:alert(1)) &amp; \"'\r\n# heading\n---\n| x |"

// hostileReport puts s into every string of a report a user or an image can influence.
func hostileReport(s string, long int) *Report {
	name := s + fmt.Sprint(long)
	if long > 0 {
		for len(name) < long {
			name += s
		}
	}
	r := &Report{
		SchemaVersion: SchemaVersion, Tool: Tool{Name: "plimsoll", Version: s}, RunID: s,
		StartedAt: fixtureStart, FinishedAt: fixtureStart.Add(time.Second),
		Old:  &Subject{Ref: name, Name: s, Transport: s, Digest: s},
		New:  Subject{Ref: s, Name: name, Transport: s, Digest: s},
		Plan: Plan{Kind: s, Risk: s, Layers: []check.Layer{check.L1Diff, check.L2Smoke}, Promotion: s, Reasons: []string{s, name}},
	}
	table := check.Table{Title: s, Columns: []string{s, "package", s}, Rows: [][]string{{s, name, s}, {name}, {s, s, s, s}}}
	r.Layers = layers(map[check.Layer][]check.Result{
		check.L1Diff: {
			{Check: s, Status: check.StatusFail, Message: name, Measured: s, Baseline: s, Threshold: s, Source: s, Tables: []check.Table{table}},
			{Check: name, Status: check.StatusError, Message: s},
			{Check: s, Status: check.StatusWarn, Message: s, Tables: []check.Table{table}},
			{Check: s, Status: check.StatusSkipped, Message: s},
			{Check: s, Status: check.StatusPass, Message: s},
		},
	}, map[check.Layer]time.Duration{check.L1Diff: time.Second},
		map[check.Layer][2]string{check.L2Smoke: {StateNotRun, s}, check.L3Functional: {StateExcluded, s},
			check.L4Perf: {s, s}, check.L5Harden: notPlanned, check.L6Soak: notPlanned})
	for i := range r.Layers {
		r.Layers[i].Name = s
	}
	decide(r, []check.Layer{check.L2Smoke})
	return r
}
