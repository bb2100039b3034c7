// Package incident records what happens during a rollback or an aborted rollout as a
// store.Incident (a timeline of timestamped events) and renders it as a Markdown
// post-incident report: summary, impact, timeline, root cause / trigger, actions taken and
// follow-ups. The delivery commands (rollback, drill, rollout) share it.
package incident

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
)

// Recorder collects the timeline of one incident. It is safe for concurrent use.
type Recorder struct {
	mu  sync.Mutex
	now func() time.Time
	inc store.Incident
}

// NewRecorder starts recording inc (its Kind, Namespace, Workload, images and Reason, as far as
// they are known yet). now is the clock (nil = time.Now). StartedAt is set from the clock when
// inc has none, and an ID is made up when inc has none.
func NewRecorder(now func() time.Time, inc store.Incident) *Recorder {
	if now == nil {
		now = time.Now
	}
	if inc.StartedAt.IsZero() {
		inc.StartedAt = now()
	}
	if inc.ID == "" {
		inc.ID = newID(inc.StartedAt, inc.Workload)
	}
	inc.Timeline = append([]store.IncidentEvent(nil), inc.Timeline...)
	return &Recorder{now: now, inc: inc}
}

// newID names an incident after its start (UTC, to the second), its workload and a random suffix.
func newID(t time.Time, workload string) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	w := strings.NewReplacer("/", "-", " ", "-", ",", "-").Replace(workload)
	if w != "" {
		w = "-" + w
	}
	return t.UTC().Format("20060102T150405Z") + w + "-" + hex.EncodeToString(b[:])
}

// Add appends an event, stamped with the clock, to the timeline.
func (r *Recorder) Add(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inc.Timeline = append(r.inc.Timeline, store.IncidentEvent{Time: r.now(), What: what})
}

// Addf is Add with a format.
func (r *Recorder) Addf(format string, args ...any) { r.Add(fmt.Sprintf(format, args...)) }

// Update changes the incident's fields, for what is learnt while it goes on (the images, the
// reason). The timeline is better changed with Add.
func (r *Recorder) Update(f func(*store.Incident)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.inc)
}

// End stamps the incident's end with the clock. Later events still go on the timeline.
func (r *Recorder) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inc.EndedAt = r.now()
}

// Incident returns a copy of the incident as recorded so far, its timeline in time order.
// When End has not been called, EndedAt is the time of the last event (StartedAt when
// there is none).
func (r *Recorder) Incident() store.Incident {
	r.mu.Lock()
	defer r.mu.Unlock()
	inc := r.inc
	inc.Timeline = append([]store.IncidentEvent(nil), r.inc.Timeline...)
	sort.SliceStable(inc.Timeline, func(i, j int) bool { return inc.Timeline[i].Time.Before(inc.Timeline[j].Time) })
	if inc.EndedAt.IsZero() {
		inc.EndedAt = inc.StartedAt
		if n := len(inc.Timeline); n > 0 && inc.Timeline[n-1].Time.After(inc.EndedAt) {
			inc.EndedAt = inc.Timeline[n-1].Time
		}
	}
	return inc
}
