// Package config reads plimsoll's policy file: versioned YAML (apiVersion: plimsoll/v1,
// kind: Policy), decoded strictly so that an unknown key is an error, with defaults applied.
// Every problem of a file is reported at once, each with its YAML path and line; every one
// wraps ErrInvalid, which the command line maps to its usage exit code.
//
// The policy is made of sections, one field of Policy each. A section's type validates itself
// (a problems method); adding a section is adding a field whose type has one.
package config

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/plan"
)

// The header every policy file starts with.
const (
	APIVersion = "plimsoll/v1"
	KindPolicy = "Policy"
)

// ErrInvalid is wrapped by every problem of a policy file.
var ErrInvalid = errors.New("invalid policy")

// Policy is the policy of a run.
type Policy struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Plan overrides the seed plan of upgrade kinds.
	Plan PlanSection `yaml:"plan"`
	// Diff tunes the image diff (L1).
	Diff Diff `yaml:"diff"`
	// Vulnerabilities says which vulnerability findings stop an upgrade.
	Vulnerabilities Vulnerabilities `yaml:"vulnerabilities"`
	// App says how to run the application (Layers 2 to 6).
	App App `yaml:"app"`
	// Smoke tunes the smoke test (L2).
	Smoke Smoke `yaml:"smoke"`
	// Functional tunes the application's test suite (L3).
	Functional Functional `yaml:"functional"`
	// Perf tunes the performance comparison (L4).
	Perf Perf `yaml:"perf"`
	// Harden tunes the hardening checks (L5).
	Harden Harden `yaml:"harden"`
	// Soak tunes the soak (L6) and `plimsoll soak`.
	Soak Soak `yaml:"soak"`
	// Patches is the patch policy of `plimsoll patches`.
	Patches Patches `yaml:"patches"`
	// Delivery tunes `plimsoll rollout` and `rollback`: the registry fallback.
	Delivery Delivery `yaml:"delivery"`
	// Runtime says where Layers 2 to 6 run the images: Docker or Kubernetes.
	Runtime Runtime `yaml:"runtime"`
}

// PlanSection overrides the seed plans, by upgrade kind ("patch", "major", …).
type PlanSection map[plan.Kind]PlanOverride

// PlanOverride changes the seed plan of one upgrade kind; a field left out keeps the seed's.
type PlanOverride struct {
	// Layers to run, by number ("2", "L2") or name ("smoke").
	Layers []string `yaml:"layers"`
	// Budget is the time the whole run may take ("15m").
	Budget time.Duration `yaml:"budget"`
	// Soak is the shortest soak the promotion rule accepts ("24h").
	Soak time.Duration `yaml:"soak"`
}

// Diff tunes the image diff.
type Diff struct {
	// AllowRemoved are packages whose removal is expected, so it is no reason for CAUTION.
	AllowRemoved []string `yaml:"allowRemoved"`
	// AllowAdded are packages a patch or hotfix may add: any other new package in such a plan
	// is an unexpected dependency, so a reason for CAUTION.
	AllowAdded []string `yaml:"allowAdded"`
	// CriticalComponents are package names to treat as critical, beside the built-in ones.
	CriticalComponents []string `yaml:"criticalComponents"`
}

// Vulnerabilities says which vulnerability findings stop an upgrade.
type Vulnerabilities struct {
	// DB is the root of the grype vulnerability database; "" uses grype's own. Load resolves
	// a relative path against the policy file's directory.
	DB string `yaml:"db"`
	// AllowNewOnMajor lets a major upgrade bring new findings at or above FailOn without NO-GO.
	AllowNewOnMajor bool `yaml:"allowNewOnMajor"`
	// FailOn is the lowest severity whose introduction is NO-GO: negligible, low, medium, high
	// (the default) or critical.
	FailOn string `yaml:"failOn"`
	// Ignore are accepted findings (CVE or GHSA IDs); each is still reported, as ignored.
	Ignore []string `yaml:"ignore"`
}

// Severities are the values of failOn, from least to most severe.
var Severities = []string{"negligible", "low", "medium", "high", "critical"}

// Default returns the policy of a run without a policy file.
func Default() *Policy {
	return &Policy{
		APIVersion: APIVersion, Kind: KindPolicy,
		Vulnerabilities: Vulnerabilities{FailOn: "high"},
		App: App{CPUs: 2, Memory: "1g", Health: Health{Timeout: 30 * time.Second, Interval: 250 * time.Millisecond},
			EngineTimeout: time.Minute},
		Smoke:      Smoke{StayUp: 2 * time.Second},
		Functional: DefaultFunctional(),
		Perf:       DefaultPerf(),
		Harden:     Harden{UID: 65532, ReadOnlyRoot: true, SBOM: SBOMRule{Required: true}},
	}
}

// Load reads and validates the policy file at path. An unreadable file is an I/O error
// (fs.ErrNotExist and the like), an invalid one, or one larger than MaxFileBytes, wraps
// ErrInvalid. It stops, returning ctx's error, when ctx ends.
func Load(ctx context.Context, path string) (*Policy, error) {
	b, err := ReadFile(ctx, path, "policy")
	if err != nil {
		return nil, err
	}
	p, err := parse(ctx, b, path)
	if err != nil {
		return nil, err
	}
	if db := p.Vulnerabilities.DB; db != "" && !filepath.IsAbs(db) {
		p.Vulnerabilities.DB = filepath.Join(filepath.Dir(path), db)
	}
	return p, nil
}

// Parse reads and validates a policy.
func Parse(b []byte) (*Policy, error) { return parse(context.Background(), b, "") }

// Validate returns every problem of p joined, each wrapping ErrInvalid; nil for a valid policy.
func (p *Policy) Validate() error { return join(p.problems()) }

// section is a part of the policy that validates itself; path is its YAML path.
type section interface {
	problems(path string) []*Problem
}

func (p *Policy) problems() []*Problem {
	var ps []*Problem
	if p.APIVersion != APIVersion {
		ps = append(ps, apiVersionProblem(p.APIVersion, 0))
	}
	switch p.Kind {
	case KindPolicy:
	case "":
		ps = append(ps, &Problem{Path: "kind", Msg: "missing: want kind: " + KindPolicy})
	default:
		ps = append(ps, &Problem{Path: "kind", Msg: fmt.Sprintf("%q is not a policy: want kind: %s", p.Kind, KindPolicy)})
	}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if s, ok := v.Field(i).Interface().(section); ok {
			ps = append(ps, s.problems(yamlName(v.Type().Field(i)))...)
		}
	}
	return append(ps, sidecarProblems(p.App, p.Smoke, "smoke")...)
}

func apiVersionProblem(got string, line int) *Problem {
	if got == "" {
		return &Problem{Path: "apiVersion", Line: line, Msg: "missing: a policy file starts with apiVersion: " + APIVersion}
	}
	return &Problem{Path: "apiVersion", Line: line, Msg: fmt.Sprintf("%q is not supported: this plimsoll reads apiVersion %s", got, APIVersion)}
}

func (s PlanSection) problems(path string) []*Problem {
	var ps []*Problem
	kinds := make([]plan.Kind, 0, len(s))
	for k := range s {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		o, at := s[k], path+"."+string(k)
		seed, ok := plan.Seed(k)
		switch {
		case !ok:
			var names []string
			for _, k := range plan.Kinds[1:] {
				names = append(names, string(k))
			}
			ps = append(ps, &Problem{Path: at, Msg: "unknown upgrade kind: use " + strings.Join(names, ", ")})
			continue
		case k == plan.SameDigest:
			ps = append(ps, &Problem{Path: at, Msg: "the same-digest plan cannot be changed: an unchanged image is already verified"})
			continue
		}
		layers := seed.Layers
		if o.Layers != nil {
			parsed, lps := parseLayers(o.Layers, at+".layers")
			ps = append(ps, lps...)
			if len(lps) == 0 {
				layers = parsed
			}
		}
		if o.Budget < 0 {
			ps = append(ps, &Problem{Path: at + ".budget", Msg: fmt.Sprintf("%s is negative", o.Budget)})
		}
		if o.Soak < 0 {
			ps = append(ps, &Problem{Path: at + ".soak", Msg: fmt.Sprintf("%s is negative", o.Soak)})
		}
		hasSoak := slices.Contains(layers, check.L6Soak)
		if o.Soak > 0 && !hasSoak {
			ps = append(ps, &Problem{Path: at + ".soak", Msg: fmt.Sprintf("set, but the %s plan runs no %s layer", k, check.L6Soak)})
		}
		budget, soak := orSeed(o.Budget, seed.Budget), orSeed(o.Soak, seed.MinSoak)
		if hasSoak && budget > 0 && soak > budget {
			where := at + ".budget"
			if o.Budget == 0 {
				where = at + ".soak"
			}
			ps = append(ps, &Problem{Path: where, Msg: fmt.Sprintf("the budget %s is shorter than the soak %s", budget, soak)})
		}
	}
	return ps
}

// orSeed returns the override o, or the seed's value when o is not set.
func orSeed(o, seed time.Duration) time.Duration {
	if o != 0 {
		return o
	}
	return seed
}

// parseLayers reads layer names and numbers, with a problem for each bad or repeated one.
func parseLayers(names []string, path string) ([]check.Layer, []*Problem) {
	if len(names) == 0 {
		return nil, []*Problem{{Path: path, Msg: "empty: a plan needs at least one layer (leave layers out to keep the seed's)"}}
	}
	var (
		out []check.Layer
		ps  []*Problem
	)
	for i, n := range names {
		at := fmt.Sprintf("%s[%d]", path, i)
		l, err := check.ParseLayer(n)
		switch {
		case err != nil:
			ps = append(ps, &Problem{Path: at, Msg: err.Error()})
		case slices.Contains(out, l):
			ps = append(ps, &Problem{Path: at, Msg: l.String() + " given twice"})
		default:
			out = append(out, l)
		}
	}
	return out, ps
}

// Overrides returns the section as plan overrides. The section must be valid.
func (s PlanSection) Overrides() map[plan.Kind]plan.Override {
	out := make(map[plan.Kind]plan.Override, len(s))
	for k, o := range s {
		var layers []check.Layer
		if o.Layers != nil {
			layers, _ = parseLayers(o.Layers, "")
		}
		out[k] = plan.Override{Layers: layers, Budget: o.Budget, MinSoak: o.Soak}
	}
	return out
}

func (d Diff) problems(path string) []*Problem {
	ps := names(d.AllowRemoved, path+".allowRemoved", "package name")
	ps = append(ps, names(d.AllowAdded, path+".allowAdded", "package name")...)
	return append(ps, names(d.CriticalComponents, path+".criticalComponents", "package name")...)
}

func (v Vulnerabilities) problems(path string) []*Problem {
	var ps []*Problem
	if !slices.Contains(Severities, v.FailOn) {
		ps = append(ps, &Problem{Path: path + ".failOn", Msg: fmt.Sprintf("unknown severity %q: use %s", v.FailOn, strings.Join(Severities, ", "))})
	}
	return append(ps, names(v.Ignore, path+".ignore", "vulnerability ID")...)
}

// names checks a list of names: none empty, none with spaces, none twice. It takes time linear
// in the list's length: an ignore list may hold a hundred thousand IDs.
func names(list []string, path, what string) []*Problem {
	var ps []*Problem
	seen := make(map[string]bool, len(list))
	for i, n := range list {
		at := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case strings.TrimSpace(n) == "":
			ps = append(ps, &Problem{Path: at, Msg: "empty " + what})
		case strings.ContainsFunc(n, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }):
			ps = append(ps, &Problem{Path: at, Msg: fmt.Sprintf("%q: a %s has no spaces", n, what)})
		case seen[n]:
			ps = append(ps, &Problem{Path: at, Msg: fmt.Sprintf("%q given twice", n)})
		}
		seen[n] = true
	}
	return ps
}

// Problem is one thing wrong with a policy: where it is, and what.
type Problem struct {
	// File is the policy file, "" when the policy was parsed from bytes.
	File string
	// Line is the 1-based line, 0 when unknown.
	Line int
	// Path is the YAML path ("plan.patch.layers[2]"), "" for the file as a whole.
	Path string
	Msg  string
}

func (p *Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Unwrap makes every problem an ErrInvalid.
func (p *Problem) Unwrap() error { return ErrInvalid }

// join returns the problems as one error, nil for none.
func join(ps []*Problem) error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}
