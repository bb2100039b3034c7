package imagediff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// fakeCataloger returns a fixed inventory per image and counts its calls.
type fakeCataloger struct {
	inv   map[*image.Image]*scan.Inventory
	calls int
}

func (f *fakeCataloger) Inventory(_ context.Context, img *image.Image) (*scan.Inventory, error) {
	f.calls++
	return f.inv[img], nil
}

// fixed is a Matcher with the same findings whatever the inventory.
type fixed []scan.Finding

func (f fixed) Findings(context.Context, *scan.Inventory) ([]scan.Finding, error) { return f, nil }

type failing struct{ err error }

func (f failing) Findings(context.Context, *scan.Inventory) ([]scan.Finding, error) {
	return nil, f.err
}

func img(ref string, cfg v1.Config) *image.Image {
	return &image.Image{Ref: ref, Config: &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: cfg}}
}

func apk(name, version string) scan.Package {
	return scan.Package{Name: name, Version: version, Type: "apk", Origin: name}
}

func vuln(id string, sev scan.Severity, pkg string) scan.Finding {
	return scan.Finding{ID: id, Severity: sev, Package: pkg, Version: "1"}
}

func run(t *testing.T, c check.Check, env *check.Env) check.Result {
	t.Helper()
	r, err := c.Run(context.Background(), env)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	return r
}

func TestVulnerabilities(t *testing.T) {
	old, new := img("old", v1.Config{}), img("new", v1.Config{})
	crit, high, med := scan.Critical, scan.High, scan.Medium
	tests := []struct {
		name       string
		old, new   []scan.Finding
		major      bool
		allowMajor bool
		hotfix     []string
		ignore     []string
		want       check.Status
		says       string
	}{
		{"fewer is GO", []scan.Finding{vuln("A", high, "p"), vuln("B", med, "q")}, []scan.Finding{vuln("B", med, "q")}, false, false, nil, nil,
			check.StatusPass, "1 fixed, 0 introduced, 1 persisting"},
		{"equal is GO", []scan.Finding{vuln("B", med, "q")}, []scan.Finding{vuln("B", med, "q")}, false, false, nil, nil,
			check.StatusPass, "0 fixed, 0 introduced, 1 persisting"},
		{"a new high is NO-GO", nil, []scan.Finding{vuln("H", high, "p")}, false, false, nil, nil,
			check.StatusFail, "1 new at or above high, 0 fixed (0 → 1 at or above high): new H (high, p)"},
		{"a new critical on a major upgrade the policy allows is CAUTION", nil, []scan.Finding{vuln("C", crit, "p")}, true, true, nil, nil,
			check.StatusWarn, "allowed for a major upgrade by policy"},
		{"the allowance needs a major upgrade", nil, []scan.Finding{vuln("C", crit, "p")}, false, true, nil, nil,
			check.StatusFail, "1 new at or above high"},
		{"same high count but different is CAUTION", []scan.Finding{vuln("X", high, "p")}, []scan.Finding{vuln("Y", high, "p")}, false, false, nil, nil,
			check.StatusWarn, "1 new at or above high, 1 fixed (1 → 1 at or above high): new Y (high, p); fixed X (high, p)"},
		{"fewer high but one new is CAUTION, and says the counts", []scan.Finding{vuln("X1", high, "p"), vuln("X2", crit, "q"), vuln("X3", high, "r")}, []scan.Finding{vuln("Y", high, "p")}, false, false, nil, nil,
			check.StatusWarn, "1 new at or above high, 3 fixed (3 → 1 at or above high): new Y (high, p); fixed X2 (critical, q), X1 (high, p), X3 (high, r)"},
		{"more new than fixed says both counts", []scan.Finding{vuln("X", high, "p"), vuln("P", high, "s")}, []scan.Finding{vuln("P", high, "s"), vuln("Y", high, "p"), vuln("Z", crit, "q")}, false, false, nil, nil,
			check.StatusFail, "2 new at or above high, 1 fixed (2 → 3 at or above high): new Z (critical, q), Y (high, p); fixed X (high, p)"},
		{"more findings below failOn is CAUTION", nil, []scan.Finding{vuln("M", med, "p")}, false, false, nil, nil,
			check.StatusWarn, "1 more findings below high (0 → 1 in all): M (medium, p)"},
		{"an ignored finding does not count", nil, []scan.Finding{vuln("H", high, "p")}, false, false, nil, []string{"H"},
			check.StatusPass, "1 findings ignored by policy"},
		{"hotfix CVE still present is NO-GO", []scan.Finding{vuln("CVE-1", med, "p")}, []scan.Finding{vuln("CVE-1", med, "p")}, false, false, []string{"CVE-1"}, nil,
			check.StatusFail, "hotfix CVE-1 still present in p 1"},
		{"hotfix CVE gone", []scan.Finding{vuln("CVE-1", med, "p")}, nil, false, false, []string{"cve-1"}, nil,
			check.StatusPass, "hotfix cve-1 fixed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := &fakeCataloger{inv: map[*image.Image]*scan.Inventory{old: {}, new: {}}}
			checks := New(Config{Cataloger: cat, Old: fixed(tt.old), New: fixed(tt.new), Source: "test",
				Vulns:      config.Vulnerabilities{FailOn: "high", AllowNewOnMajor: tt.allowMajor, Ignore: tt.ignore},
				HotfixCVEs: tt.hotfix, Major: tt.major})
			r := run(t, checks[2], &check.Env{Old: old, New: new})
			if r.Status != tt.want || !strings.Contains(r.Message, tt.says) {
				t.Errorf("got %v %q, want %v containing %q", r.Status, r.Message, tt.want, tt.says)
			}
			if strings.Contains(r.Message, "same count") {
				t.Errorf("message %q claims a count it did not compare", r.Message)
			}
			if r.Source != "test" || r.Measured == "" || r.Baseline == "" || r.Threshold == "" {
				t.Errorf("evidence missing: %+v", r)
			}
		})
	}
}

func TestVulnerabilitiesWithoutDataIsAnError(t *testing.T) {
	old, new := img("old", v1.Config{}), img("new", v1.Config{})
	noDB := errors.New("no grype database in /nowhere")
	checks := New(Config{Cataloger: &fakeCataloger{inv: map[*image.Image]*scan.Inventory{old: {}, new: {}}},
		Old: failing{noDB}, New: failing{noDB}, Vulns: config.Vulnerabilities{FailOn: "high"}})
	_, err := checks[2].Run(context.Background(), &check.Env{Old: old, New: new})
	if !errors.Is(err, noDB) {
		t.Fatalf("err = %v, want the matcher's", err)
	}
}

func TestPackages(t *testing.T) {
	old, new := img("old", v1.Config{}), img("new", v1.Config{})
	inv := func(ps ...scan.Package) *scan.Inventory { return &scan.Inventory{Packages: ps} }
	tests := []struct {
		name     string
		old, new *scan.Inventory
		allow    []string
		want     check.Status
		says     string
	}{
		{"upgrades only", inv(apk("zlib", "1.3.1-r0")), inv(apk("zlib", "1.3.1-r1")), nil, check.StatusPass, "1 package changes, none unexpected"},
		{"a removal is CAUTION", inv(apk("zlib", "1"), apk("libc-utils", "0.7")), inv(apk("zlib", "1")), nil, check.StatusWarn, "unexpected removal: libc-utils"},
		{"an expected removal is not", inv(apk("zlib", "1"), apk("libc-utils", "0.7")), inv(apk("zlib", "1")), []string{"libc-utils"}, check.StatusPass, "none unexpected"},
		{"a downgrade is CAUTION", inv(apk("zlib", "1.3.1-r1")), inv(apk("zlib", "1.3.1-r0")), nil, check.StatusWarn, "downgraded: zlib 1.3.1-r1 → 1.3.1-r0"},
		{"critical components are named", inv(apk("musl", "1.2.4-r4")), inv(apk("musl", "1.2.5-r0")), nil, check.StatusPass, "critical components changed: musl 1.2.4-r4 → 1.2.5-r0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := &fakeCataloger{inv: map[*image.Image]*scan.Inventory{old: tt.old, new: tt.new}}
			checks := New(Config{Cataloger: cat, Diff: config.Diff{AllowRemoved: tt.allow}})
			env := &check.Env{Old: old, New: new}
			r := run(t, checks[0], env)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.says) {
				t.Errorf("got %v %q, want %v containing %q", r.Status, r.Message, tt.want, tt.says)
			}
			if len(r.Tables) != 1 || len(r.Tables[0].Rows) == 0 {
				t.Errorf("no change table: %+v", r.Tables)
			}
			// The vulnerability check reuses the inventories: each image is catalogued once.
			checks[2].(*vulnCheck).cfg.Old, checks[2].(*vulnCheck).cfg.New = fixed(nil), fixed(nil)
			checks[2].(*vulnCheck).cfg.Vulns.FailOn = "high"
			run(t, checks[2], env)
			if cat.calls != 2 {
				t.Errorf("catalogued %d times, want 2", cat.calls)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	base := v1.Config{User: "65532", Entrypoint: []string{"/app"}, Env: []string{"PATH=/bin", "API_TOKEN=s3cret"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}}, Labels: map[string]string{"v": "1"}}
	with := func(f func(c *v1.Config)) v1.Config {
		c := base
		c.Env = append([]string(nil), base.Env...)
		c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
		c.Labels = map[string]string{"v": "1"}
		f(&c)
		return c
	}
	tests := []struct {
		name string
		new  v1.Config
		arch string
		want check.Status
		says string
	}{
		{"same", base, "amd64", check.StatusPass, "configs are the same"},
		{"label and env are harmless", with(func(c *v1.Config) { c.Labels["v"] = "2"; c.Env[0] = "PATH=/usr/bin" }), "amd64", check.StatusPass, "2 harmless config changes"},
		{"user change is CAUTION", with(func(c *v1.Config) { c.User = "root" }), "amd64", check.StatusWarn, "changed: user"},
		{"entrypoint change is CAUTION", with(func(c *v1.Config) { c.Entrypoint = []string{"/other"} }), "amd64", check.StatusWarn, "changed: entrypoint"},
		{"a removed port is CAUTION", with(func(c *v1.Config) { c.ExposedPorts = nil }), "amd64", check.StatusWarn, "changed: port 8080/tcp"},
		{"another platform is NO-GO", base, "arm64", check.StatusFail, "changed: platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := img("new", tt.new)
			n.Config.Architecture = tt.arch
			r := run(t, configCheck{}, &check.Env{Old: img("old", base), New: n})
			if r.Status != tt.want || !strings.Contains(r.Message, tt.says) {
				t.Errorf("got %v %q, want %v containing %q", r.Status, r.Message, tt.want, tt.says)
			}
			if strings.Contains(r.Message, "same count") {
				t.Errorf("message %q claims a count it did not compare", r.Message)
			}
		})
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	o := v1.Config{Env: []string{"API_TOKEN=old-s3cret", "DB_PASSWORD=hunter2"}}
	n := v1.Config{Env: []string{"API_TOKEN=new-s3cret"}}
	changes := DiffConfig(&v1.ConfigFile{Config: o}, &v1.ConfigFile{Config: n})
	for _, c := range changes {
		for _, secret := range []string{"s3cret", "hunter2"} {
			if strings.Contains(c.Old+c.New, secret) {
				t.Errorf("%s leaks a secret: %+v", c.Field, c)
			}
		}
	}
	if len(changes) != 2 {
		t.Errorf("changes = %+v, want the token's change and the password's removal", changes)
	}
}

// ticker is a fake clock that moves only when a fake scanner works.
type ticker struct{ t time.Time }

func (k *ticker) now() time.Time           { return k.t }
func (k *ticker) spend(d time.Duration)    { k.t = k.t.Add(d) }
func (k *ticker) cataloger() slowCataloger { return slowCataloger{k} }
func (k *ticker) matcher() slowMatcher     { return slowMatcher{k} }

type slowCataloger struct{ k *ticker }

func (s slowCataloger) Inventory(context.Context, *image.Image) (*scan.Inventory, error) {
	s.k.spend(3 * time.Second)
	return &scan.Inventory{Packages: []scan.Package{apk("zlib", "1")}}, nil
}

type slowMatcher struct{ k *ticker }

func (s slowMatcher) Findings(context.Context, *scan.Inventory) ([]scan.Finding, error) {
	s.k.spend(2 * time.Second)
	return nil, nil
}

// TestPhaseTimings: Layer 1 records cataloguing as inventory (once per image, however many
// checks use it), vulnerability matching as match and SBOM writing as encode.
func TestPhaseTimings(t *testing.T) {
	k := &ticker{t: time.Unix(0, 0)}
	rec := &timing.Recorder{Now: k.now}
	checks := New(Config{Cataloger: k.cataloger(), Old: k.matcher(), New: k.matcher(),
		Vulns: config.Vulnerabilities{FailOn: "high"}, SBOMDir: t.TempDir(),
		WriteSBOMs: func(*scan.Inventory, string, string) ([]string, error) { k.spend(time.Second); return nil, nil }})
	env := &check.Env{Old: img("old", v1.Config{}), New: img("new", v1.Config{}), Timings: rec}
	for _, c := range checks {
		run(t, c, env)
	}
	for p, want := range map[timing.Phase]time.Duration{
		timing.Resolve: 0, timing.Facts: 0, timing.Diff: 0,
		timing.Inventory: 6 * time.Second, timing.Match: 4 * time.Second, timing.Encode: 2 * time.Second,
	} {
		if got := rec.Total(p); got != want {
			t.Errorf("%s took %s, want %s", p, got, want)
		}
	}
}

// TestSummaryJSONHasNoNull puts the results of the three checks on two images with nothing to
// tell apart (every list of their data empty) in a report and writes it as summary.json and
// as the run history stores it: every list is [], never null.
func TestSummaryJSONHasNoNull(t *testing.T) {
	old, new := img("old", v1.Config{}), img("new", v1.Config{})
	cat := &fakeCataloger{inv: map[*image.Image]*scan.Inventory{old: {}, new: {}}}
	checks := New(Config{Cataloger: cat, Old: fixed(nil), New: fixed(nil), Vulns: config.Vulnerabilities{FailOn: "high"}})
	var results []check.Result
	for _, c := range checks {
		results = append(results, run(t, c, &check.Env{Old: old, New: new}))
	}
	r := &report.Report{RunID: "x", Old: &report.Subject{Ref: "old"}, New: report.Subject{Ref: "new"},
		Layers: []report.Layer{{Layer: check.L1Diff, Name: "diff", State: report.StateRan, Results: results}}}
	var b bytes.Buffer
	if err := (report.JSON{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(r) // as the run history keeps it
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"summary.json": b.Bytes(), "stored": stored} {
		nulls, err := testenv.JSONNulls(doc)
		if err != nil {
			t.Fatal(err)
		}
		if len(nulls) > 0 {
			t.Errorf("%s has null where a list belongs: %v", name, nulls)
		}
		// The lists docs/summary-json.md names for Layer 1 are there, as lists.
		var sum struct {
			Layers []struct {
				Results []struct {
					Check string         `json:"check"`
					Data  map[string]any `json:"data"`
				} `json:"results"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(doc, &sum); err != nil {
			t.Fatal(err)
		}
		lists := map[string][]string{
			"packages":        {"added", "removed", "upgraded", "downgraded", "renamed"},
			"config":          {"changes"},
			"vulnerabilities": {"ignored"},
		}
		for _, res := range sum.Layers[0].Results {
			if res.Check == "vulnerabilities" {
				delta, _ := res.Data["delta"].(map[string]any)
				for _, k := range []string{"introduced", "fixed", "persisting"} {
					if _, ok := delta[k].([]any); !ok {
						t.Errorf("%s: vulnerabilities data.delta.%s = %v, want a list", name, k, delta[k])
					}
				}
			}
			for _, k := range lists[res.Check] {
				if _, ok := res.Data[k].([]any); !ok {
					t.Errorf("%s: %s data.%s = %v, want a list", name, res.Check, k, res.Data[k])
				}
			}
		}
	}
}
