// Package plan classifies an upgrade from an old image to a new one and chooses what the gate
// runs for it: the layers, the promotion rule, the thresholds and the time budget. It is pure:
// it reads the tags and the facts the image package found, and does no I/O.
//
// # Kinds and the seed table
//
// An upgrade is one of seven kinds, ordered from least to most risky (see Kinds):
//
//	same-digest < patch < hotfix < minor < custom < major < distro
//
// hotfix sits above patch (it is a patch under time pressure, with a CVE that must be gone) and
// below minor; custom (a first deployment, nothing to compare with) sits above minor because
// every layer is judged without a baseline, and below major and distro, which also need a soak.
// Each kind has a seed plan (Seed) taken from our users' upgrade strategy; a policy may override
// its layers, budget and soak (ApplyOverrides).
//
// # Reading an upgrade
//
// Classify reads the tags and the content of both images, and the riskier reading wins; the
// plan's Reasons list every reading and mark the one that decided. The tag is read as a version
// (ParseTagVersion) in one of three ways:
//
//   - A language runtime's image (node, python, golang, Java images, ruby, php; known by the
//     repository name or the tag's prefix, "py3.12", "node18"): a jump of one step of the
//     runtime's release line is minor, more than one step is major. The release line of python,
//     golang, ruby and php is their minor version (3.12→3.13 is one step, 3.11→3.13 two); the
//     release line of node and Java is their long-term-support major (node 18→20 and Java 17→21
//     are one step, node 18→22 two). A change of python's or golang's leading number (3→4) is
//     major.
//   - A distribution's image (alpine, debian, ubuntu, …): a new release (alpine 3.19→3.20,
//     ubuntu 22.04→24.04, debian 11→12) is distro; a point release (3.19.1→3.19.4) is patch.
//   - Any other tag is read as semver: a change of the first number (postgres 15→16, 3.x→4.x) is
//     major, of the second minor, of any later one patch.
//
// A variant that names a base distribution ("3.12-alpine3.19", "21-jre-jammy", "bookworm") is read
// as that distribution's release, so alpine3.19→alpine3.20 is distro whatever the version before
// it says. A tag that does not change with a new digest is a rebuild: patch when the tag pins a
// major.minor line or finer, minor when it floats wider ("latest", "18"), and content decides
// anything riskier.
//
// The content (the facts of both images) is read as: another OS (os-release ID) or OS release
// (VERSION_ID major or minor; major only for single-number lines such as debian 11→12) is distro;
// another libc family, or a libc major or minor version, is distro; another OpenSSL major (1.1→3;
// before OpenSSL 3 the first two numbers made the major, 1.0→1.1) is major, since an OpenSSL ABI
// break reaches every TLS client and server in the image; an OpenSSL minor is minor; another user,
// entrypoint or command is at least minor. Smaller changes are listed as patch-level reasons;
// OpenSSL's letter releases (1.1.1d < 1.1.1g < 1.1.1k) are ordered by their letter.
//
// # Downgrades
//
// A new image whose distribution release, C library or OpenSSL is older than the old image's (by
// tag, for a distribution's own image or a variant naming its base, or by content) is a
// downgrade: the reading says so, keeps the kind of the change's size (alpine 3.20→3.19 is still
// distro), and the plan lists it in Downgrades, which make the verdict at least CAUTION.
package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
)

// Kind is the kind of an upgrade.
type Kind string

// The kinds of upgrade.
const (
	SameDigest Kind = "same-digest" // the new image is the old image
	Patch      Kind = "patch"       // a patch or security patch (3.12.1→3.12.2)
	Hotfix     Kind = "hotfix"      // an emergency fix of named CVEs (--hotfix)
	Minor      Kind = "minor"       // a minor bump or one step of a runtime's release line
	Custom     Kind = "custom"      // a first deployment: no old image to compare with
	Major      Kind = "major"       // a major bump or more than one step of a release line
	Distro     Kind = "distro"      // another distribution, distribution release or libc
)

// Kinds lists every kind from least to most risky. Of several readings of an upgrade, the one
// latest in this list wins.
var Kinds = []Kind{SameDigest, Patch, Hotfix, Minor, Custom, Major, Distro}

// riskier reports whether k is riskier than than.
func (k Kind) riskier(than Kind) bool { return slices.Index(Kinds, k) > slices.Index(Kinds, than) }

// Facts is what the plan reads from an image's content. It mirrors image.Facts (the caller
// converts), so the plan stays free of image reading. An empty field is unknown.
type Facts struct {
	OSID, OSVersionID string // os-release ID and VERSION_ID: "alpine", "3.20.3"
	Libc, LibcVersion string // libc family and version: "musl", "1.2.5-r0"
	OpenSSLVersion    string // "3.3.2-r0"
	User              string // the config's user; "" is root
	Entrypoint, Cmd   []string
}

// Input is what Classify reads.
type Input struct {
	OldDigest, NewDigest string
	// OldRepo and NewRepo are the repository part of each reference ("python",
	// "docker.io/library/node"), "" when unknown. They say which release line a tag belongs to.
	OldRepo, NewRepo string
	// OldTag and NewTag are the tag part only ("3.12.1-slim"), "" when unknown.
	OldTag, NewTag string
	// Old and New are the images' facts. Old is nil for a first deployment; New is nil when
	// its facts are unknown, and then only the tags are read.
	Old, New *Facts
	// HotfixCVEs are the CVEs --hotfix names: the new image must be free of each.
	HotfixCVEs []string
}

// Plan is what the gate runs for an upgrade, and why.
type Plan struct {
	Kind Kind
	// Risk is "none", "low", "medium", "high", or "unknown" for a first deployment.
	Risk string
	// Layers are the layers to run, in run order.
	Layers []check.Layer
	// Budget is the time the whole run may take.
	Budget time.Duration
	// MinSoak is the shortest soak (L6) the promotion rule accepts; 0 when no soak is planned.
	MinSoak time.Duration
	// Promotion is the promotion rule in words.
	Promotion string
	// Required are the layers whose pass the promotion rule needs.
	Required []check.Layer
	// MetricsWithin is how far (0.15 = 15 %) the new image's metrics may stray from the old
	// image's for promotion; 0 leaves the threshold to the checks.
	MetricsWithin float64
	// LeakCheck asks the soak to check memory growth for leaks; a run whose soak did not judge
	// memory growth is then not GO (the gate adds a warning).
	LeakCheck bool
	// HotfixCVEs are the CVEs that must be gone from the new image, upper-cased.
	HotfixCVEs []string
	// Downgrades are the parts of the image the new one takes back to an older version: the
	// distribution release, the C library or OpenSSL, by tag or by content. Whatever the
	// checks find, a downgrade makes the verdict at least CAUTION.
	Downgrades []Downgrade
	// Reasons say why the plan is what it is, one reading per line.
	Reasons []string
}

// Downgrade is one part of an image that goes back to an older version.
type Downgrade struct {
	// What went back: "alpine release", "musl", "OpenSSL".
	What string
	// Old and New are its versions in the old and the new image.
	Old, New string
	// Source says where the versions were read: "image tags", "os-release VERSION_ID of both images".
	Source string
}

func (d Downgrade) String() string { return d.What + " " + d.Old + "→" + d.New }

var seeds = map[Kind]Plan{
	SameDigest: {Risk: "none"},
	Patch: {Risk: "low", Budget: 15 * time.Minute,
		// L4 runs as a baseline for maintenance patches; the plan cannot tell a maintenance patch
		// from a security patch, so it always runs but the promotion rule does not need it.
		Layers:   []check.Layer{check.L1Diff, check.L2Smoke, check.L4Perf, check.L5Harden},
		Required: []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden}},
	Hotfix: {Risk: "medium", Budget: 20 * time.Minute,
		Layers:   []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden},
		Required: []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden}},
	Minor: {Risk: "medium", Budget: 60 * time.Minute,
		Layers:   []check.Layer{check.L1Diff, check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden},
		Required: []check.Layer{check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden}},
	Custom: {Risk: "unknown", Budget: 60 * time.Minute,
		Layers:   []check.Layer{check.L1Diff, check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden},
		Required: []check.Layer{check.L1Diff, check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden}},
	Major: {Risk: "high", Budget: 72 * time.Hour, MinSoak: 24 * time.Hour, MetricsWithin: 0.15,
		Layers:   check.AllLayers,
		Required: []check.Layer{check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden, check.L6Soak}},
	// Distro: "48 h+" with an extended soak: at least 48 h of soak inside a 72 h budget.
	Distro: {Risk: "high", Budget: 72 * time.Hour, MinSoak: 48 * time.Hour, MetricsWithin: 0.15, LeakCheck: true,
		Layers:   check.AllLayers,
		Required: []check.Layer{check.L2Smoke, check.L3Functional, check.L4Perf, check.L5Harden, check.L6Soak}},
}

// Seed returns the seed plan of kind k, before any reading or override; false for an unknown
// kind. Patch and hotfix require L1 because their rule is about vulnerabilities, which L1
// scans; the other rules are as the strategy states them.
func Seed(k Kind) (Plan, bool) {
	s, ok := seeds[k]
	if !ok {
		return Plan{}, false
	}
	p := s
	p.Kind = k
	p.Layers = slices.Clone(s.Layers)
	p.Required = slices.Clone(s.Required)
	p.Promotion = promotion(p)
	return p, true
}

// promotion writes the promotion rule of p in words.
func promotion(p Plan) string {
	if p.Kind == SameDigest {
		return "already verified: the new image is the old image"
	}
	var parts []string
	if len(p.Required) > 0 {
		parts = append(parts, layerList(p.Required, " + ")+" pass")
	}
	switch p.Kind {
	case Patch:
		parts = append(parts, "no new critical/high vulnerabilities")
	case Custom:
		parts = append(parts, "full regression of the new image alone")
	}
	soak := slices.Contains(p.Layers, check.L6Soak)
	if p.MetricsWithin > 0 && (soak || slices.Contains(p.Layers, check.L4Perf)) {
		parts = append(parts, fmt.Sprintf("metrics within %g %% of the old image", p.MetricsWithin*100))
	}
	if p.MinSoak > 0 && soak {
		parts = append(parts, "a soak of at least "+fmtDuration(p.MinSoak))
	}
	if p.LeakCheck {
		parts = append(parts, "no memory leak over the soak")
	}
	if len(p.HotfixCVEs) > 0 {
		parts = append(parts, strings.Join(p.HotfixCVEs, ", ")+" gone from the new image")
	}
	return strings.Join(parts, "; ")
}

// reading is what one look at the upgrade found: a kind it calls for, why, and the downgrade
// it saw, if any.
type reading struct {
	kind Kind
	why  string
	down *Downgrade
}

// Classify reads the upgrade in and returns its plan. A same digest short-cuts every other
// reading; no old facts make a first deployment (custom). Otherwise the tags and the content are
// read and the riskiest reading wins; --hotfix CVEs make the plan at least a hotfix and stay a
// promotion requirement whatever kind wins.
func Classify(in Input) Plan {
	cves := normalizeCVEs(in.HotfixCVEs)
	if in.OldDigest != "" && in.OldDigest == in.NewDigest {
		p, _ := Seed(SameDigest)
		p.Reasons = []string{"digest " + in.NewDigest + " unchanged: the new image is the old image, already verified"}
		if len(cves) > 0 {
			p.Reasons = append(p.Reasons, "--hotfix "+strings.Join(cves, ", ")+" not checked: the image did not change, so it fixes nothing")
		}
		return p
	}
	var rs []reading
	if in.Old == nil {
		rs = append(rs, reading{kind: Custom, why: "no old image: a first deployment, the new image is judged alone (custom)"})
	} else {
		rs = append(rs, readTags(in)...)
		if in.New == nil {
			rs = append(rs, reading{why: "facts of the new image unknown: content not read"})
		} else {
			rs = append(rs, readFacts(*in.Old, *in.New)...)
		}
	}
	if len(cves) > 0 {
		rs = append(rs, reading{kind: Hotfix, why: "--hotfix " + strings.Join(cves, ", ") + ": the named CVEs must be gone (hotfix)"})
	}
	kind, winner := Kind(""), -1
	kinds := map[Kind]bool{}
	for i, r := range rs {
		if r.kind == "" {
			continue
		}
		kinds[r.kind] = true
		if winner < 0 || r.kind.riskier(kind) {
			kind, winner = r.kind, i
		}
	}
	if winner < 0 {
		kind = Minor
		rs = append(rs, reading{kind: Minor, why: "no version change found in the tags or the content, yet the digest changed: read as minor"})
		winner = len(rs) - 1
	}
	p, _ := Seed(kind)
	for i, r := range rs {
		why := r.why
		if i == winner && len(kinds) > 1 {
			why += " (riskier reading wins)"
		}
		p.Reasons = append(p.Reasons, why)
		if r.down != nil {
			p.Downgrades = addDowngrade(p.Downgrades, *r.down)
		}
	}
	if slices.Contains(p.Layers, check.L4Perf) && !slices.Contains(p.Required, check.L4Perf) {
		p.Reasons = append(p.Reasons, baselineWhy)
	}
	if len(p.Downgrades) > 0 {
		names := make([]string, len(p.Downgrades))
		for i, d := range p.Downgrades {
			names[i] = d.String()
		}
		p.Reasons = append(p.Reasons, "a downgrade of "+strings.Join(names, ", ")+": the verdict is at least CAUTION")
	}
	if len(cves) > 0 {
		p.HotfixCVEs = cves
		p.Layers = withLayer(p.Layers, check.L1Diff)
		p.Required = withLayer(p.Required, check.L1Diff)
		p.Promotion = promotion(p)
	}
	return p
}

// baselineWhy says why a patch runs L4 though its promotion rule does not need it.
const baselineWhy = "L4 perf runs as the performance baseline of a maintenance patch (a maintenance patch and a security patch look alike to the plan, so both get it); the promotion rule does not need it, though a regression it finds still counts"

// addDowngrade adds d to ds; the same downgrade read twice (by tag and by content) is one, with
// both sources.
func addDowngrade(ds []Downgrade, d Downgrade) []Downgrade {
	for i, e := range ds {
		if e.What == d.What && e.Old == d.Old && e.New == d.New {
			if !strings.Contains(e.Source, d.Source) {
				ds[i].Source += "; " + d.Source
			}
			return ds
		}
	}
	return append(ds, d)
}

// Override is a policy's change to the seed plan of one kind; a zero field keeps the plan's value.
type Override struct {
	// Layers replace the plan's layers; nil keeps them.
	Layers  []check.Layer
	Budget  time.Duration
	MinSoak time.Duration
}

// ApplyOverrides applies the override of p's kind, if o has one, and says so in the reasons.
// Of the new layers, those the plan required stay required and those the override adds become
// required (the policy asked for them); a required layer left out is named in the reasons. A
// hotfix's L1 stays, since only L1 can show the CVEs gone. Without L6 there is no soak, so its
// minimum goes; the leak check stays, as a rule the run cannot meet (the gate says so). A
// same-digest plan is never changed.
func ApplyOverrides(p Plan, o map[Kind]Override) Plan {
	ov, ok := o[p.Kind]
	if !ok || p.Kind == SameDigest {
		return p
	}
	q := p
	q.Reasons = slices.Clone(p.Reasons)
	if ov.Layers != nil {
		layers := slices.Clone(ov.Layers)
		slices.Sort(layers)
		layers = slices.Compact(layers)
		if len(p.HotfixCVEs) > 0 && !slices.Contains(layers, check.L1Diff) {
			layers = withLayer(layers, check.L1Diff)
			q.Reasons = append(q.Reasons, "policy leaves out L1 diff, kept: only it can show "+strings.Join(p.HotfixCVEs, ", ")+" gone")
		}
		var req, dropped []check.Layer
		for _, l := range layers {
			if slices.Contains(p.Required, l) || !slices.Contains(p.Layers, l) {
				req = append(req, l)
			}
		}
		for _, l := range p.Required {
			if !slices.Contains(layers, l) {
				dropped = append(dropped, l)
			}
		}
		q.Layers, q.Required = layers, req
		if !slices.Contains(layers, check.L4Perf) {
			q.Reasons = slices.DeleteFunc(q.Reasons, func(r string) bool { return r == baselineWhy })
		}
		if !slices.Contains(layers, check.L6Soak) {
			q.MinSoak = 0
		}
		q.Reasons = append(q.Reasons, fmt.Sprintf("policy sets the %s layers to %s", p.Kind, layerList(layers, ", ")))
		if len(dropped) > 0 {
			q.Reasons = append(q.Reasons, "policy leaves out "+layerList(dropped, ", ")+", which the "+string(p.Kind)+" promotion rule requires")
		}
	}
	if ov.Budget > 0 {
		q.Budget = ov.Budget
		q.Reasons = append(q.Reasons, fmt.Sprintf("policy sets the %s budget to %s (seed %s)", p.Kind, fmtDuration(ov.Budget), fmtDuration(p.Budget)))
	}
	if ov.MinSoak > 0 && slices.Contains(q.Layers, check.L6Soak) {
		q.MinSoak = ov.MinSoak
		q.Reasons = append(q.Reasons, fmt.Sprintf("policy sets the %s soak to at least %s (seed %s)", p.Kind, fmtDuration(ov.MinSoak), fmtDuration(p.MinSoak)))
	}
	q.Promotion = promotion(q)
	return q
}

// normalizeCVEs upper-cases and trims the IDs, dropping empty and repeated ones.
func normalizeCVEs(ids []string) []string {
	var out []string
	for _, id := range ids {
		id = strings.ToUpper(strings.TrimSpace(id))
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// withLayer returns ls with l added in run order, unless it is there.
func withLayer(ls []check.Layer, l check.Layer) []check.Layer {
	if slices.Contains(ls, l) {
		return ls
	}
	out := append(slices.Clone(ls), l)
	slices.Sort(out)
	return out
}

// layerList writes layers as "L2 smoke + L5 harden".
func layerList(ls []check.Layer, sep string) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.String()
	}
	return strings.Join(names, sep)
}

// fmtDuration writes whole hours as "24h" and whole minutes as "15m", not "24h0m0s".
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
