package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/plan"
)

const header = "apiVersion: plimsoll/v1\nkind: Policy\n"

func TestDefault(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if p.Vulnerabilities.FailOn != "high" || p.Vulnerabilities.AllowNewOnMajor || p.Vulnerabilities.DB != "" || len(p.Plan) != 0 {
		t.Errorf("Default() = %+v", p)
	}
	if Default() == p || Default().Vulnerabilities.FailOn != "high" {
		t.Error("Default returns a shared policy")
	}
}

func TestParseValid(t *testing.T) {
	withFailOn := func(s string) *Policy { p := Default(); p.Vulnerabilities.FailOn = s; return p }
	tests := []struct {
		name string
		yaml string
		want *Policy
	}{
		{"header only gets the defaults", header, Default()},
		{"empty and null sections keep the defaults", header + "plan: {}\ndiff:\nvulnerabilities:\n  failOn: ~\n",
			&Policy{APIVersion: APIVersion, Kind: KindPolicy, Plan: PlanSection{}, Vulnerabilities: Vulnerabilities{FailOn: "high"}}},
		{"fail on critical", header + "vulnerabilities: {failOn: critical}\n", withFailOn("critical")},
		{"layers by number, L-number and name", header + "plan:\n  minor: {layers: [1, L2, functional, \" 5 \"], budget: 1h30m}\n",
			&Policy{APIVersion: APIVersion, Kind: KindPolicy, Vulnerabilities: Vulnerabilities{FailOn: "high"},
				Plan: PlanSection{plan.Minor: {Layers: []string{"1", "L2", "functional", " 5 "}, Budget: 90 * time.Minute}}}},
		{"anchors and aliases", header + "diff:\n  allowRemoved: &pk [a, b]\n  criticalComponents: *pk\n",
			&Policy{APIVersion: APIVersion, Kind: KindPolicy, Vulnerabilities: Vulnerabilities{FailOn: "high"},
				Diff: Diff{AllowRemoved: []string{"a", "b"}, CriticalComponents: []string{"a", "b"}}}},
		{"everything", header + `plan:
  patch: {layers: [diff, smoke, harden], budget: 15m}
  major: {soak: 36h}
  hotfix: {budget: 30m}
diff:
  allowRemoved: [libc-utils]
  allowAdded: [libexpat]
  criticalComponents: [openssl]
vulnerabilities:
  db: /var/lib/grype/db
  allowNewOnMajor: true
  failOn: medium
  ignore: [CVE-2023-1234, GHSA-jfh8-c2jp-5v3q]
`, &Policy{APIVersion: APIVersion, Kind: KindPolicy,
			Plan: PlanSection{
				plan.Patch:  {Layers: []string{"diff", "smoke", "harden"}, Budget: 15 * time.Minute},
				plan.Major:  {Soak: 36 * time.Hour},
				plan.Hotfix: {Budget: 30 * time.Minute}},
			Diff: Diff{AllowRemoved: []string{"libc-utils"}, AllowAdded: []string{"libexpat"}, CriticalComponents: []string{"openssl"}},
			Vulnerabilities: Vulnerabilities{DB: "/var/lib/grype/db", AllowNewOnMajor: true, FailOn: "medium",
				Ignore: []string{"CVE-2023-1234", "GHSA-jfh8-c2jp-5v3q"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// These cases leave the runtime sections alone: they keep their defaults.
			def := Default()
			tt.want.App, tt.want.Smoke, tt.want.Harden = def.App, def.Smoke, def.Harden
			tt.want.Functional, tt.want.Perf = def.Functional, def.Perf
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %+v\nwant    %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("a parsed policy does not validate: %v", err)
			}
		})
	}
}

// TestParseInvalid checks that every problem of a file is reported at once, in file order, each
// at its path and line, and that all of them are ErrInvalid.
func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty file", "", []string{"empty: a policy file starts with apiVersion: plimsoll/v1 and kind: Policy"}},
		{"comments only", "# nothing\n", []string{"empty: a policy file starts with apiVersion: plimsoll/v1 and kind: Policy"}},
		{"missing apiVersion", "kind: Policy\nplan: {}\n", []string{"line 1: apiVersion: missing: a policy file starts with apiVersion: plimsoll/v1"}},
		{"wrong apiVersion is the only problem", "kind: Policy\napiVersion: plimsoll/v2\nbogus: 1\n",
			[]string{`line 2: apiVersion: "plimsoll/v2" is not supported: this plimsoll reads apiVersion plimsoll/v1`}},
		{"apiVersion a list", "apiVersion: [plimsoll/v1]\n", []string{"line 1: apiVersion: want a single value: apiVersion: plimsoll/v1"}},
		{"not a mapping", "- apiVersion: plimsoll/v1\n", []string{"line 1: not a policy: a policy file is a mapping that starts with apiVersion: plimsoll/v1"}},
		{"syntax error", header + "plan: [\n", []string{"line 3: did not find expected node content"}},
		{"two documents", header + "---\n" + header, []string{"line 4: a second YAML document: a policy file holds one"}},
		{"missing and wrong kind", "apiVersion: plimsoll/v1\n", []string{"line 0: kind: missing: want kind: Policy"}},
		{"every problem at once", `apiVersion: plimsoll/v1
kind: Policiy
plan:
  patch:
    layers: [diff, smoke, x, 2, L9]
    budget: 15x
    soak: 1h
  mjor: {soak: 24h}
  same-digest: {budget: 1m}
  minor: {layers: []}
  major: {budget: 12h, sooak: 1h}
  distro: {soak: 100h}
diff:
  allowRemoved: [libc-utils, "", libc-utils, "two words"]
  extra: true
  allowAdded: [libexpat, libexpat]
vulnerabilities:
  failOn: severe
  allowNewOnMajor: maybe
  ignore: {CVE-1: yes}
  ignore: [CVE-2]
unknownSection: {}
`, []string{
			`line 2: kind: "Policiy" is not a policy: want kind: Policy`,
			`line 5: plan.patch.layers[2]: unknown layer "x": use 1-6 or diff, smoke, functional, perf, harden, soak`,
			`line 5: plan.patch.layers[3]: L2 smoke given twice`,
			`line 5: plan.patch.layers[4]: unknown layer "L9": layers are 1-6`,
			`line 6: plan.patch.budget: "15x" is not a duration: write a Go duration such as 15m, 24h or 1h30m`,
			`line 7: plan.patch.soak: set, but the patch plan runs no L6 soak layer`,
			`line 8: plan.mjor: unknown upgrade kind: use patch, hotfix, minor, custom, major, distro`,
			`line 9: plan.same-digest: the same-digest plan cannot be changed: an unchanged image is already verified`,
			`line 10: plan.minor.layers: empty: a plan needs at least one layer (leave layers out to keep the seed's)`,
			`line 11: plan.major.sooak: unknown field: use layers, budget, soak`,
			`line 11: plan.major.budget: the budget 12h0m0s is shorter than the soak 24h0m0s`,
			`line 12: plan.distro.soak: the budget 72h0m0s is shorter than the soak 100h0m0s`,
			`line 14: diff.allowRemoved[1]: empty package name`,
			`line 14: diff.allowRemoved[2]: "libc-utils" given twice`,
			`line 14: diff.allowRemoved[3]: "two words": a package name has no spaces`,
			`line 15: diff.extra: unknown field: use allowRemoved, allowAdded, criticalComponents`,
			`line 16: diff.allowAdded[1]: "libexpat" given twice`,
			`line 18: vulnerabilities.failOn: unknown severity "severe": use negligible, low, medium, high, critical`,
			`line 19: vulnerabilities.allowNewOnMajor: "maybe" is not a boolean: write true or false`,
			`line 20: vulnerabilities.ignore: want a list, found a mapping`,
			`line 21: vulnerabilities.ignore: given twice (first at line 20)`,
			`line 22: unknownSection: unknown field: use apiVersion, kind, plan, diff, vulnerabilities, app, smoke, functional, perf, harden, soak, patches, delivery, runtime`,
		}},
		{"wrong shapes", header + "plan: [patch]\ndiff: {allowRemoved: libc-utils, allowAdded: libexpat}\nvulnerabilities: {failOn: [high], db: {a: 1}}\n", []string{
			"line 3: plan: want a mapping, found a list",
			"line 4: diff.allowRemoved: want a list, found a single value",
			"line 4: diff.allowAdded: want a list, found a single value",
			"line 5: vulnerabilities.failOn: want a single value, found a list",
			"line 5: vulnerabilities.db: want a single value, found a mapping",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", p)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error: %+v", p)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			for i, g := range got {
				got[i] = strings.TrimPrefix(g, "line 0: ") // a problem without a line
				if !strings.HasPrefix(g, "line ") {
					got[i] = "line 0: " + g
				}
			}
			want := slices.Clone(tt.want)
			for i, w := range want {
				if !strings.HasPrefix(w, "line ") {
					want[i] = "line 0: " + w
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestValidateBuiltPolicy(t *testing.T) {
	p := Default()
	p.APIVersion = "v1"
	p.Plan = PlanSection{plan.Custom: {Layers: []string{"soak"}, Budget: -time.Minute}}
	p.Vulnerabilities.Ignore = []string{"CVE-1", "CVE-1"}
	err := p.Validate()
	want := []string{
		`apiVersion: "v1" is not supported: this plimsoll reads apiVersion plimsoll/v1`,
		`plan.custom.budget: -1m0s is negative`,
		`vulnerabilities.ignore[1]: "CVE-1" given twice`,
	}
	if err == nil || !errors.Is(err, ErrInvalid) || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Validate() = %v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestExamplePolicy(t *testing.T) {
	p, err := Load(t.Context(), filepath.Join("..", "..", "examples", "policy.yaml"))
	if err != nil {
		t.Fatalf("examples/policy.yaml: %v", err)
	}
	if p.Vulnerabilities.FailOn != "high" || !slices.Equal(p.Diff.AllowRemoved, []string{"libc-utils"}) || len(p.Diff.AllowAdded) != 0 || p.Vulnerabilities.DB != "" {
		t.Errorf("example policy = %+v", p)
	}
	seed, _ := plan.Seed(plan.Patch)
	got := plan.ApplyOverrides(seed, p.Plan.Overrides())
	if want := []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden}; !slices.Equal(got.Layers, want) || got.Budget != 15*time.Minute {
		t.Errorf("example patch plan: layers %v budget %s, want %v 15m", got.Layers, got.Budget, want)
	}
	distro, _ := plan.Seed(plan.Distro)
	if got := plan.ApplyOverrides(distro, p.Plan.Overrides()); got.MinSoak != 72*time.Hour || got.Budget != 96*time.Hour {
		t.Errorf("example distro plan: soak %s budget %s, want 72h 96h", got.MinSoak, got.Budget)
	}
	// The perf and soak sections write out the defaults; the patch policy is an example.
	if d := DefaultPerf(); p.Perf.Rounds != d.Rounds || p.Perf.Capacity != d.Capacity || p.Perf.Thresholds != d.Thresholds {
		t.Errorf("example perf %+v differs from the defaults %+v", p.Perf, d)
	}
	if d := DefaultSoak(); p.Soak.Limits != d.Limits || p.Soak.Duration != d.Duration || p.Soak.Interval != d.Interval {
		t.Errorf("example soak %+v differs from the defaults %+v", p.Soak, d)
	}
	if w := p.Patches.Windows; p.Patches.Eligible.Fixes != "high" || len(w) != 1 || w[0].Timezone != "Europe/Berlin" || p.Patches.Approvals.Count != 1 {
		t.Errorf("example patch policy = %+v", p.Patches)
	}
}

func TestOverrides(t *testing.T) {
	s := PlanSection{plan.Minor: {Layers: []string{"smoke", "1"}, Budget: time.Hour}, plan.Major: {Soak: 30 * time.Hour}}
	want := map[plan.Kind]plan.Override{
		plan.Minor: {Layers: []check.Layer{check.L2Smoke, check.L1Diff}, Budget: time.Hour},
		plan.Major: {MinSoak: 30 * time.Hour},
	}
	if got := s.Overrides(); !reflect.DeepEqual(got, want) {
		t.Errorf("Overrides() = %+v, want %+v", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(header+"vulnerabilities: {db: grype/db}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "grype", "db"); p.Vulnerabilities.DB != want {
		t.Errorf("db = %q, want %q (relative to the policy file)", p.Vulnerabilities.DB, want)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(header+"diff: {x: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(t.Context(), bad); !errors.Is(err, ErrInvalid) || err.Error() != bad+":3: diff.x: unknown field: use allowRemoved, allowAdded, criticalComponents" {
		t.Errorf("Load(bad) = %v", err)
	}

	_, err = Load(t.Context(), filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist and not ErrInvalid", err)
	}
}

// TestSections checks that every part of the policy beside its header validates itself, so a
// new section cannot be forgotten by Validate.
func TestSections(t *testing.T) {
	pt := reflect.TypeFor[Policy]()
	for i := range pt.NumField() {
		f := pt.Field(i)
		if f.Name == "APIVersion" || f.Name == "Kind" {
			continue
		}
		if !f.Type.Implements(reflect.TypeFor[section]()) {
			t.Errorf("Policy.%s (%s) has no problems method", f.Name, f.Type)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "policy.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(header))
	f.Add([]byte(header + "plan: {patch: {layers: [1, x]}, mjor: {}}\n"))
	f.Add([]byte(header + "diff: &a {allowRemoved: *a}\n"))
	f.Add([]byte("apiVersion: plimsoll/v1\n---\n"))
	f.Add([]byte(header + "plan:\n  major: {soak: 1h, budget: 2562047h}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		switch {
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Fatalf("error without ErrInvalid: %v", err)
		case err != nil && p != nil:
			t.Fatalf("a policy with an error: %v", err)
		case err == nil && p.Validate() != nil:
			t.Fatalf("parsed policy does not validate: %v", p.Validate())
		case err == nil:
			p.Plan.Overrides()
		}
	})
}
