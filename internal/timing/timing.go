// Package timing records where the wall time of one run goes, phase by phase: resolving the
// images, reading their facts, cataloguing their packages, matching vulnerabilities, diffing
// and encoding. It is a leaf package (standard library only), so the gate, the checks and the
// command line can all record into one Recorder.
package timing

import (
	"slices"
	"sync"
	"time"
)

// Phase is one kind of work a run does.
type Phase string

// The phases of a run, in the order they happen.
const (
	Resolve   Phase = "resolve"   // references to digest-pinned images (a daemon image is saved)
	Facts     Phase = "facts"     // each image's config and OS facts, for the plan
	Inventory Phase = "inventory" // cataloguing each image's packages (an SBOM)
	Match     Phase = "match"     // finding each inventory's vulnerabilities
	Diff      Phase = "diff"      // comparing packages, configs and findings
	Encode    Phase = "encode"    // writing SBOMs and the report
)

// Phases lists every phase in order.
var Phases = []Phase{Resolve, Facts, Inventory, Match, Diff, Encode}

// Recorder adds up the wall time spent in each phase. Spans of one phase that overlap (two
// images worked on at once) count once, so a phase's total never exceeds the run's wall time.
// A nil *Recorder records nothing. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	spans map[Phase][]span
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

type span struct{ from, to time.Time }

// Start begins a span of phase p and returns the function that ends it.
func (r *Recorder) Start(p Phase) (stop func()) {
	if r == nil {
		return func() {}
	}
	from := r.now()
	return func() {
		to := r.now()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.spans == nil {
			r.spans = map[Phase][]span{}
		}
		r.spans[p] = append(r.spans[p], span{from, to})
	}
}

// Total is the wall time during which at least one span of phase p was open; 0 when none was.
func (r *Recorder) Total(p Phase) time.Duration {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	ss := slices.Clone(r.spans[p])
	r.mu.Unlock()
	slices.SortFunc(ss, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	var cur span
	for i, s := range ss {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(ss) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
