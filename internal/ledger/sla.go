package ledger

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
)

// NoOwner names the owner of a file no rule gives one.
const NoOwner = "(no owner)"

// OpenPatch is a patch a reference in use still waits for: seen for the image it names, and
// neither applied there nor declined.
type OpenPatch struct {
	Owner    string        `json:"owner"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Image    string        `json:"image"`
	ToRef    string        `json:"toRef"`
	ToDigest string        `json:"toDigest,omitempty"`
	Severity scan.Severity `json:"severity"`
	// Since is when the ledger first saw the patch: the SLA's clock starts there. Due is
	// Since plus the SLA of Severity; Late is how far Now is past Due (0: not late).
	Since time.Time       `json:"since"`
	Due   time.Time       `json:"due"`
	Late  report.Duration `json:"late,omitempty"`
}

// OwnerLoad counts the open patches of one owner at one severity.
type OwnerLoad struct {
	Owner    string          `json:"owner"`
	Severity scan.Severity   `json:"severity"`
	Open     int             `json:"open"`
	Breaches int             `json:"breaches"`
	MostLate report.Duration `json:"mostLate,omitempty"`
}

// open lists the patches the references of in wait for, with their owners and deadlines:
// for each reference, every patch seen for the image it names (the event's FromRef is that
// reference) whose severity has an SLA and that was not declined.
func open(events []store.PatchEvent, in Input) ([]OpenPatch, []OwnerLoad) {
	declined := map[[2]string]bool{}
	for _, e := range events {
		if e.Kind == store.PatchException {
			declined[key(e)] = true
		}
	}
	var out []OpenPatch
	seen := map[string]bool{}
	for _, r := range in.Refs {
		if r.Local || r.Tag == "" {
			continue
		}
		for _, e := range events {
			sla, ok := in.SLA[e.Severity]
			if e.Kind != store.PatchSeen || e.Image != r.Name || !ok || declined[key(e)] || e.Time.After(in.Now) || !inUse(e.FromRef, r.Name, r.Tag, r.Digest) {
				continue
			}
			id := r.File + "\x00" + e.ToDigest + "\x00" + e.ToRef
			if seen[id] {
				continue
			}
			seen[id] = true
			p := OpenPatch{Owner: NoOwner, File: r.File, Line: r.Line, Image: r.Name, ToRef: e.ToRef, ToDigest: e.ToDigest,
				Severity: e.Severity, Since: e.Time, Due: e.Time.Add(sla)}
			if in.Owner != nil {
				if o := in.Owner(r.File); len(o) > 0 {
					p.Owner = strings.Join(o, " ")
				}
			}
			if in.Now.After(p.Due) {
				p.Late = report.Duration(in.Now.Sub(p.Due))
			}
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b OpenPatch) int {
		return cmp.Or(cmp.Compare(b.Late, a.Late), cmp.Compare(b.Severity, a.Severity), strings.Compare(a.Owner, b.Owner), strings.Compare(a.File, b.File))
	})
	var loads []OwnerLoad
	for _, p := range out {
		i := slices.IndexFunc(loads, func(l OwnerLoad) bool { return l.Owner == p.Owner && l.Severity == p.Severity })
		if i < 0 {
			loads = append(loads, OwnerLoad{Owner: p.Owner, Severity: p.Severity})
			i = len(loads) - 1
		}
		loads[i].Open++
		if p.Late > 0 {
			loads[i].Breaches++
			loads[i].MostLate = max(loads[i].MostLate, p.Late)
		}
	}
	slices.SortFunc(loads, func(a, b OwnerLoad) int {
		return cmp.Or(strings.Compare(a.Owner, b.Owner), cmp.Compare(b.Severity, a.Severity))
	})
	return out, loads
}

// inUse reports whether from, the reference in use when a patch was seen ("repo:tag@digest"),
// is the reference name:tag[@digest] still written: by digest when it is pinned, by tag when
// it floats.
func inUse(from, name, tag, digest string) bool {
	if digest != "" {
		return from == name+":"+tag+"@"+digest
	}
	return strings.HasPrefix(from, name+":"+tag+"@")
}
