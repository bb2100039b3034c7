package timing

import (
	"sync"
	"testing"
	"time"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) at(s int)       { c.mu.Lock(); c.t = time.Unix(int64(s), 0); c.mu.Unlock() }

func TestTotal(t *testing.T) {
	type sp struct{ from, to int }
	for _, tc := range []struct {
		name  string
		spans []sp
		want  time.Duration
	}{
		{"none", nil, 0},
		{"one", []sp{{1, 4}}, 3 * time.Second},
		{"apart", []sp{{1, 2}, {5, 8}}, 4 * time.Second},
		{"overlapping count once", []sp{{1, 5}, {3, 7}}, 6 * time.Second},
		{"nested", []sp{{1, 10}, {2, 3}, {4, 5}}, 9 * time.Second},
		{"touching", []sp{{1, 3}, {3, 4}}, 3 * time.Second},
		{"recorded out of order", []sp{{6, 8}, {1, 2}, {1, 3}}, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{}
			r := &Recorder{Now: c.now}
			for _, s := range tc.spans {
				c.at(s.from)
				stop := r.Start(Inventory)
				c.at(s.to)
				stop()
			}
			if got := r.Total(Inventory); got != tc.want {
				t.Errorf("Total = %s, want %s", got, tc.want)
			}
			if got := r.Total(Match); got != 0 {
				t.Errorf("Total of a phase never started = %s, want 0", got)
			}
		})
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Start(Resolve)()
	if got := r.Total(Resolve); got != 0 {
		t.Errorf("nil Recorder Total = %s, want 0", got)
	}
}

func TestConcurrent(t *testing.T) {
	r := &Recorder{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				r.Start(Diff)()
			}
		})
	}
	wg.Wait()
	if got := len(r.spans[Diff]); got != 800 {
		t.Errorf("%d spans recorded, want 800", got)
	}
}
