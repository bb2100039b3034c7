package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/store"
)

// undo are the statements that take a database from schema version v back to v-1, by v.
var undo = map[int][]string{
	3: {"DROP TABLE leases", "DROP INDEX samples_tick", "ALTER TABLE samples DROP COLUMN tick"},
	2: {"DROP TABLE patch_events", "DROP TABLE incidents"},
}

// downgrade takes a migrated database (closed) back to schema version v.
func downgrade(t *testing.T, tg Target, v int) {
	t.Helper()
	ctx := t.Context()
	for from := len(undo) + 1; from > v; from-- {
		for _, q := range undo[from] {
			if err := tg.Exec(ctx, q); err != nil {
				t.Fatalf("back to version %d: %s: %v", from-1, q, err)
			}
		}
	}
	if err := tg.Exec(ctx, fmt.Sprintf("DELETE FROM schema_migrations WHERE version > %d", v)); err != nil {
		t.Fatal(err)
	}
}

// tickSamples are the samples of tick n of a soak of NEW alone: the tick and one reading.
func tickSamples(n int64, rss float64) []store.Sample {
	t := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return []store.Sample{{Time: t, Tick: n, Metric: "tick", Value: float64(n)}, {Time: t, Tick: n, Metric: "new.rss_bytes", Value: rss}}
}

// testTicksOnce appends ticks again, from one Store and from two at once: each tick and metric
// is stored once, and a skipped sample takes no number.
func testTicksOnce(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	for n := int64(1); n <= 3; n++ {
		if err := s.AppendSamples(ctx, "soak", tickSamples(n, float64(n))...); err != nil {
			t.Fatal(err)
		}
	}
	// Tick 3 again (other values: the first copy stays), and tick 4 given twice in one call.
	if err := s.AppendSamples(ctx, "soak", tickSamples(3, 99)...); err != nil {
		t.Fatalf("appending a stored tick: %v, want a no-op", err)
	}
	if err := s.AppendSamples(ctx, "soak", append(tickSamples(4, 4), tickSamples(4, 98)...)...); err != nil {
		t.Fatal(err)
	}
	// Untagged samples are never skipped.
	if err := s.AppendSamples(ctx, "soak", sample(1, "note", 1), sample(1, "note", 1)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Samples(ctx, "soak", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []store.Sample
	for n := int64(1); n <= 4; n++ {
		want = append(want, tickSamples(n, float64(n))...)
	}
	want = append(want, sample(1, "note", 1), sample(1, "note", 1))
	for i := range want {
		want[i].Seq = int64(i + 1)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}

	// Two Stores (two processes) appending the same ticks 5–30 at once.
	stores := []store.Store{open(t, tg), open(t, tg)}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores))
	for i, st := range stores {
		wg.Go(func() {
			for n := int64(5); n <= 30; n++ {
				if err := st.AppendSamples(ctx, "race", tickSamples(n, float64(100*i)+float64(n))...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err = s.Samples(ctx, "race", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*26 {
		t.Fatalf("%d samples stored by two appenders of ticks 5–30, want %d (each tick once)", len(got), 2*26)
	}
	for i, sm := range got {
		if sm.Seq != int64(i+1) || sm.Tick != int64(5+i/2) {
			t.Fatalf("sample %d: seq %d tick %d, want seq %d tick %d", i, sm.Seq, sm.Tick, i+1, 5+i/2)
		}
	}
}

// testTickMigration migrates a store where two resumed soaks stored ticks 4 and 5 twice,
// interleaved: the later copies go, everything else stays as it was.
func testTickMigration(t *testing.T, tg Target) {
	ctx := t.Context()
	s, err := tg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, tg, 2)
	type row struct {
		seq    int64
		metric string
		value  float64
	}
	rows := []row{
		{1, "tick", 1}, {2, "new.rss_bytes", 10}, {3, "tick", 2}, {4, "new.rss_bytes", 20},
		{5, "tick", 3}, {6, "new.rss_bytes", 30},
		{7, "tick", 4}, {8, "new.rss_bytes", 40}, // resume A
		{9, "tick", 4}, {10, "new.rss_bytes", 41}, // resume B: a copy
		{11, "tick", 5}, {12, "new.rss_bytes", 50}, {13, "new.fds", 12},
		{14, "tick", 5}, {15, "new.rss_bytes", 51}, {16, "new.fds", 13},
	}
	for _, r := range rows {
		if err := tg.Exec(ctx, fmt.Sprintf("INSERT INTO samples (run_id, seq, time_ns, metric, value) VALUES ('dup', %d, %d, '%s', %v)",
			r.seq, r.seq*int64(time.Second), r.metric, r.value)); err != nil {
			t.Fatal(err)
		}
	}
	for i := int64(1); i <= 3; i++ {
		if err := tg.Exec(ctx, fmt.Sprintf("INSERT INTO samples (run_id, seq, time_ns, metric, value) VALUES ('plain', %d, %d, 'rss', 7)", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"INSERT INTO sample_runs (run_id, last_seq) VALUES ('dup', 16)", "INSERT INTO sample_runs (run_id, last_seq) VALUES ('plain', 3)"} {
		if err := tg.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	s = open(t, tg)
	got, err := s.Samples(ctx, "dup", 0)
	if err != nil {
		t.Fatal(err)
	}
	ticks := map[int64]int64{1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 11: 5, 12: 5, 13: 5}
	var want []store.Sample
	for _, r := range rows {
		if tick, ok := ticks[r.seq]; ok {
			want = append(want, store.Sample{Seq: r.seq, Tick: tick, Time: time.Unix(0, r.seq*int64(time.Second)).UTC(), Metric: r.metric, Value: r.value})
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("samples after the migration (-want +got):\n%s", d)
	}
	plain, err := s.Samples(ctx, "plain", 0)
	if err != nil || len(plain) != 3 || plain[2].Tick != 0 || plain[2].Value != 7 {
		t.Errorf("samples of a run without ticks after the migration = %+v, %v; want the 3 as they were", plain, err)
	}
	// The tick that was stored twice is now refused; the next one is numbered after the last.
	if err := s.AppendSamples(ctx, "dup", tickSamples(5, 52)...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(ctx, "dup", tickSamples(6, 60)...); err != nil {
		t.Fatal(err)
	}
	got, err = s.Samples(ctx, "dup", 13)
	if err != nil || len(got) != 2 || got[0].Seq != 17 || got[0].Tick != 6 || got[1].Value != 60 {
		t.Errorf("samples appended after the migration = %+v, %v; want tick 6 only, numbered from 17", got, err)
	}
}

// testLeases takes, refuses, renews, takes over and releases leases.
func testLeases(t *testing.T, tg Target) {
	s := open(t, tg)
	ctx := t.Context()
	started := time.Date(2025, 9, 1, 10, 0, 0, 123456789, time.UTC)
	a := store.Owner{Host: "host-a", PID: 100, Started: started}
	b := store.Owner{Host: "host-b", PID: 200, Started: started}
	const name = "soak/run-1"

	l, err := s.AcquireLease(ctx, name, a, time.Hour)
	if err != nil || l.Owner != a || l.Expires.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("acquiring a free lease: %+v, %v", l, err)
	}
	if _, err := s.AcquireLease(ctx, name, a, time.Hour); err != nil {
		t.Errorf("acquiring one's own lease again: %v", err)
	}
	_, err = s.AcquireLease(ctx, name, b, time.Hour)
	var held *store.LeaseHeldError
	if !errors.As(err, &held) || !errors.Is(err, store.ErrLeaseHeld) || held.Lease.Owner != a {
		t.Fatalf("acquiring a held lease: %v, want a LeaseHeldError naming %v", err, a)
	}
	if err := s.RenewLease(ctx, name, b, time.Hour); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewing another's lease: %v, want ErrLeaseLost", err)
	}
	if err := s.ReleaseLease(ctx, name, b); err != nil {
		t.Errorf("releasing another's lease: %v, want no error", err)
	}
	// The same PID started at another time is another process (a reused PID).
	reused := a
	reused.Started = started.Add(time.Second)
	if _, err := s.AcquireLease(ctx, name, reused, time.Hour); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("a reused PID acquired the lease: %v", err)
	}
	// Taking over: only from the holder named.
	if _, err := s.TakeOverLease(ctx, name, b, reused, time.Hour); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("took over from an owner that does not hold the lease: %v", err)
	}
	if l, err := s.TakeOverLease(ctx, name, b, a, time.Hour); err != nil || l.Owner != b {
		t.Fatalf("taking over from the holder: %+v, %v", l, err)
	}
	if err := s.RenewLease(ctx, name, a, time.Hour); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewing a lease taken over: %v, want ErrLeaseLost", err)
	}
	if err := s.RenewLease(ctx, name, b, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Expired: anyone may take it.
	time.Sleep(10 * time.Millisecond)
	if l, err := s.AcquireLease(ctx, name, a, time.Hour); err != nil || l.Owner != a {
		t.Fatalf("acquiring an expired lease: %+v, %v", l, err)
	}
	if err := s.ReleaseLease(ctx, name, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, name, b, time.Hour); err != nil {
		t.Errorf("acquiring a released lease: %v", err)
	}
	for _, bad := range []struct {
		name  string
		owner store.Owner
		ttl   time.Duration
	}{{"", a, time.Hour}, {name, store.Owner{PID: 1}, time.Hour}, {name, store.Owner{Host: "h"}, time.Hour}, {name, a, 0}} {
		if _, err := s.AcquireLease(ctx, bad.name, bad.owner, bad.ttl); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AcquireLease(%q, %+v, %s): %v, want ErrInvalid", bad.name, bad.owner, bad.ttl, err)
		}
	}

	// Many owners at once, over two Stores: exactly one gets it.
	stores := []store.Store{open(t, tg), open(t, tg)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		wg.Go(func() {
			o := store.Owner{Host: "race", PID: 1000 + i, Started: started}
			_, err := stores[i%2].AcquireLease(ctx, "soak/race", o, time.Hour)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, store.ErrLeaseHeld):
				t.Errorf("owner %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d of 8 owners acquired one lease at once, want 1", winners)
	}
}
