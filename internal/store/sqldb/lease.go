package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
)

func validLease(name string, owner store.Owner, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("lease: %w: empty name", store.ErrInvalid)
	case owner.Host == "" || owner.PID <= 0:
		return fmt.Errorf("lease %s: %w: owner %q, PID %d", name, store.ErrInvalid, owner.Host, owner.PID)
	case ttl <= 0:
		return fmt.Errorf("lease %s: %w: duration %s", name, store.ErrInvalid, ttl)
	}
	return nil
}

// AcquireLease takes the lease called name for owner when it is free, expired or owner's.
func (s *Store) AcquireLease(ctx context.Context, name string, owner store.Owner, ttl time.Duration) (store.Lease, error) {
	return s.acquire(ctx, name, owner, owner, ttl)
}

// TakeOverLease takes the lease called name for owner when it is free, expired, owner's or
// stale's.
func (s *Store) TakeOverLease(ctx context.Context, name string, owner, stale store.Owner, ttl time.Duration) (store.Lease, error) {
	return s.acquire(ctx, name, owner, stale, ttl)
}

// acquire writes owner's lease over a lease that is expired or held by owner or by stale, then
// reads who holds it.
func (s *Store) acquire(ctx context.Context, name string, owner, stale store.Owner, ttl time.Duration) (store.Lease, error) {
	if err := validLease(name, owner, ttl); err != nil {
		return store.Lease{}, err
	}
	now := time.Now()
	var held store.Lease
	err := s.db.Tx(ctx, func(tx Querier) error {
		err := tx.Exec(ctx, s.q(`INSERT INTO leases (name, host, pid, started_ns, expires_ns) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
				started_ns = excluded.started_ns, expires_ns = excluded.expires_ns
			WHERE leases.expires_ns <= ?
				OR (leases.host = ? AND leases.pid = ? AND leases.started_ns = ?)
				OR (leases.host = ? AND leases.pid = ? AND leases.started_ns = ?)`),
			name, owner.Host, owner.PID, nanos(owner.Started), now.Add(ttl).UnixNano(),
			now.UnixNano(),
			owner.Host, owner.PID, nanos(owner.Started),
			stale.Host, stale.PID, nanos(stale.Started))
		if err != nil {
			return err
		}
		var pid, started, expires int64
		if _, err := queryRow(ctx, tx, s.q(`SELECT host, pid, started_ns, expires_ns FROM leases WHERE name = ?`),
			[]any{name}, &held.Owner.Host, &pid, &started, &expires); err != nil {
			return err
		}
		held.Name, held.Owner.PID, held.Owner.Started, held.Expires = name, int(pid), fromNanos(started), fromNanos(expires)
		return nil
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("%s: lease %s: %w", s.d.Name, name, err)
	}
	if !sameOwner(held.Owner, owner) {
		return held, &store.LeaseHeldError{Lease: held}
	}
	return held, nil
}

// sameOwner compares owners as the database stores them (start times in nanoseconds).
func sameOwner(a, b store.Owner) bool {
	return a.Host == b.Host && a.PID == b.PID && nanos(a.Started) == nanos(b.Started)
}

// RenewLease extends owner's lease called name.
func (s *Store) RenewLease(ctx context.Context, name string, owner store.Owner, ttl time.Duration) error {
	if err := validLease(name, owner, ttl); err != nil {
		return err
	}
	var got string
	found, err := queryRow(ctx, s.db, s.q(`UPDATE leases SET expires_ns = ?
		WHERE name = ? AND host = ? AND pid = ? AND started_ns = ? RETURNING name`),
		[]any{time.Now().Add(ttl).UnixNano(), name, owner.Host, owner.PID, nanos(owner.Started)}, &got)
	if err != nil {
		return fmt.Errorf("%s: renew lease %s: %w", s.d.Name, name, err)
	}
	if !found {
		return fmt.Errorf("renew lease %s: %w", name, store.ErrLeaseLost)
	}
	return nil
}

// ReleaseLease frees owner's lease called name.
func (s *Store) ReleaseLease(ctx context.Context, name string, owner store.Owner) error {
	err := s.db.Exec(ctx, s.q(`DELETE FROM leases WHERE name = ? AND host = ? AND pid = ? AND started_ns = ?`),
		name, owner.Host, owner.PID, nanos(owner.Started))
	if err != nil {
		return fmt.Errorf("%s: release lease %s: %w", s.d.Name, name, err)
	}
	return nil
}
