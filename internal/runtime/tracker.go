package runtime

import (
	"context"
	"slices"
	"sync"
)

// Tracker records which containers a process started and which of them it removed, so that a
// process stopped by a signal can say what it cleaned up and what may be left. It is safe for
// concurrent use; a nil *Tracker records nothing.
type Tracker struct {
	mu      sync.Mutex
	live    []string
	removed []string
}

// Started records a container by name.
func (t *Tracker) Started(name string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.live, name) {
		t.live = append(t.live, name)
	}
}

// Removed records that a container, started or found, is gone.
func (t *Tracker) Removed(name string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live = slices.DeleteFunc(t.live, func(n string) bool { return n == name })
	if !slices.Contains(t.removed, name) {
		t.removed = append(t.removed, name)
	}
}

// Live is the names of the containers started and not yet removed, in the order they started.
func (t *Tracker) Live() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.live)
}

// RemovedNames is the names of the containers removed, in the order they went.
func (t *Tracker) RemovedNames() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.removed)
}

type trackerKey struct{}

// WithTracker returns ctx carrying t: runtimes record the containers they start and remove
// under ctx in it.
func WithTracker(ctx context.Context, t *Tracker) context.Context {
	return context.WithValue(ctx, trackerKey{}, t)
}

// TrackerFrom is the Tracker ctx carries, nil (which records nothing) when it carries none.
func TrackerFrom(ctx context.Context) *Tracker {
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}
