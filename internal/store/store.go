// Package store keeps the record of past runs: every run's report, every check result as a
// row that can be queried for trends, the samples of long soak runs (each tick once), the
// leases that let one process at a time run a soak, and the patch ledger
// (what happened to each base-image patch) with the delivery incidents it is judged against. It defines the Store
// contract; internal/store/sqlite (the embedded default, pure Go) and internal/store/postgres
// (for teams) implement it, internal/store/open picks one from a DSN, and
// internal/store/storetest is the conformance suite both pass.
//
// Secrets are never stored: a report carries image references, digests, measurements and
// messages, never registry credentials or environment values, and the store writes only what
// the report holds.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// ErrNotFound is returned (wrapped) when a run is not in the store.
var ErrNotFound = errors.New("run not found")

// ErrSchemaTooNew is returned (wrapped) by Open when the database was migrated by a newer
// plimsoll than this one: its schema version is higher than any this binary knows.
var ErrSchemaTooNew = errors.New("database schema is newer than this plimsoll")

// ErrInvalid is returned (wrapped) for input the store refuses: a nil report, an empty run id.
var ErrInvalid = errors.New("invalid input")

// ErrLeaseHeld is returned (wrapped, in a *LeaseHeldError that names the holder) when a
// lease is held by another owner.
var ErrLeaseHeld = errors.New("lease held by another owner")

// ErrLeaseLost is returned (wrapped) by RenewLease when the lease is no longer the owner's:
// another owner took it over after it expired or after its owner was found gone.
var ErrLeaseLost = errors.New("lease lost")

// Store is a durable record of runs, check results and soak samples.
//
// A Store is safe for concurrent use by many goroutines, and several processes may open the
// same database at once (a soak writing while `plimsoll serve` reads). Every write is one
// transaction: when a method returns nil, what it wrote is committed and survives the process
// being killed; when it returns an error, nothing of that call was written.
type Store interface {
	// PutRun records r under r.RunID. It is an upsert: putting a run again replaces the
	// stored report and all of its result rows at once, so readers see either the old run
	// or the new one, never a mixture. A nil report or an empty RunID is ErrInvalid.
	PutRun(ctx context.Context, r *report.Report) error
	// GetRun returns the report stored under id, decoded from the JSON it was stored as (a
	// check result's Data comes back as JSON values: maps, slices, float64). An unknown id is
	// ErrNotFound.
	GetRun(ctx context.Context, id string) (*report.Report, error)
	// ListRuns returns the runs matching f, newest first (by start time, then id).
	ListRuns(ctx context.Context, f Filter) ([]RunSummary, error)
	// Results returns the stored check results matching f, newest run first and in report
	// order within a run: the rows trends are drawn from.
	Results(ctx context.Context, f ResultFilter) ([]ResultRow, error)
	// AppendSamples appends ss, in order, to the samples of run runID, numbering them after
	// the run's last sample (the first sample of a run is 1). The run does not need to have
	// been put yet: a soak writes samples long before its report exists. Appends to one run
	// from many goroutines or processes never lose or renumber a sample; each call's samples
	// get consecutive numbers. The Seq fields of ss are ignored. Appending nothing is a no-op;
	// an empty runID or a NaN or infinite value is ErrInvalid (and nothing of the call is
	// written).
	//
	// A run holds at most one sample of each tick and metric (Sample.Tick > 0): a sample of a
	// tick and metric already stored, or given twice in ss, is skipped (no error, and it takes
	// no number), whichever process appends it.
	AppendSamples(ctx context.Context, runID string, ss ...Sample) error
	// Samples returns the samples of run runID numbered after `after` (0 for all), in
	// order: exactly what was appended. An unknown run has no samples (nil, no error).
	Samples(ctx context.Context, runID string, after int64) ([]Sample, error)
	// RecordPatch records one event of the patch ledger under e.ID, assigning a new id when
	// it is empty; recording an event under an id already stored replaces it. An empty Image,
	// an unknown Kind, a zero Time or a severity out of range is ErrInvalid.
	RecordPatch(ctx context.Context, e PatchEvent) error
	// PatchEvents returns the patch events matching f, oldest first (by time, then id): the
	// ledger in the order it happened. CVEs come back nil when there were none.
	PatchEvents(ctx context.Context, f PatchFilter) ([]PatchEvent, error)
	// PutIncident records in under in.ID, replacing an incident of that id (an incident's
	// timeline grows while it lasts). An empty ID, an unknown Kind or a zero StartedAt is
	// ErrInvalid. Times come back in UTC.
	PutIncident(ctx context.Context, in Incident) error
	// Incidents returns the incidents matching f, newest first (by start time, then id).
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// SchemaVersion returns the version of the database schema (the last migration applied).
	SchemaVersion(ctx context.Context) (int, error)
	// Close releases the database. Nothing may be called after it.
	Close() error
	Leases
}

// Leases are exclusive claims on a named thing (a soak run: "soak/RUN") by one process at a
// time, shared by every process that opens the same database, on any host. A lease lasts until
// its owner releases it or its expiry passes; its owner renews it well before then. Expiry is
// judged on the clock of the process asking: the hosts sharing a store must agree on the time
// to well within a lease's duration.
type Leases interface {
	// AcquireLease gives the lease called name to owner for ttl when it is free, expired or
	// already owner's (then it is renewed), and returns it. When another owner holds it,
	// the error is a *LeaseHeldError (wrapping ErrLeaseHeld) naming that owner. An empty
	// name or owner, or a ttl that is not positive, is ErrInvalid.
	AcquireLease(ctx context.Context, name string, owner Owner, ttl time.Duration) (Lease, error)
	// TakeOverLease gives the lease called name to owner for ttl when it is free, expired,
	// owner's, or held by stale: the holder the caller found gone. When another owner holds
	// it (stale renewed it, or someone else took it first), the error is a *LeaseHeldError.
	TakeOverLease(ctx context.Context, name string, owner, stale Owner, ttl time.Duration) (Lease, error)
	// RenewLease extends owner's lease called name to ttl from now; ErrLeaseLost when the
	// lease is not (any longer) owner's.
	RenewLease(ctx context.Context, name string, owner Owner, ttl time.Duration) error
	// ReleaseLease frees owner's lease called name; a lease that is not owner's is left as it
	// is (no error).
	ReleaseLease(ctx context.Context, name string, owner Owner) error
}

// Owner is the process that holds a lease: its host, PID and start time, which together
// name it even after its PID is reused.
type Owner struct {
	Host string
	PID  int
	// Started is when the process started (to the second or better); the zero time when it
	// could not be read.
	Started time.Time
}

// String names the owner as an error message does.
func (o Owner) String() string {
	s := fmt.Sprintf("process %d on %s", o.PID, o.Host)
	if !o.Started.IsZero() {
		s += fmt.Sprintf(" (started %s)", o.Started.UTC().Format(time.RFC3339))
	}
	return s
}

// Lease is one lease as stored.
type Lease struct {
	Name    string
	Owner   Owner
	Expires time.Time
}

// LeaseHeldError is the error of a lease another owner holds.
type LeaseHeldError struct {
	Lease Lease
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("%s is held by %s until %s", e.Lease.Name, e.Lease.Owner, e.Lease.Expires.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLeaseHeld) hold.
func (e *LeaseHeldError) Unwrap() error { return ErrLeaseHeld }

// Filter selects runs for ListRuns. Zero fields match everything.
type Filter struct {
	// Image matches a run whose old or new image has this reference ("repo:tag"), or this
	// repository whatever its tag or digest ("registry.example.com/shop/api").
	Image string
	// Decision matches runs with this verdict.
	Decision verdict.Decision
	// Since matches runs started at or after it.
	Since time.Time
	// Limit caps the number of runs returned; 0 is no cap, a negative limit is ErrInvalid.
	Limit int
}

// RunSummary is one run as a list shows it.
type RunSummary struct {
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// OldRef and OldDigest are empty for a first deployment.
	OldRef    string           `json:"oldRef"`
	OldDigest string           `json:"oldDigest"`
	NewRef    string           `json:"newRef"`
	NewDigest string           `json:"newDigest"`
	PlanKind  string           `json:"planKind"`
	Decision  verdict.Decision `json:"decision"`
	Summary   string           `json:"summary"`
}

// ResultFilter selects check results for Results. Zero fields match everything.
type ResultFilter struct {
	// Image matches as in Filter.
	Image string
	Layer check.Layer
	Check string
	Since time.Time
	// Limit caps the number of rows returned; 0 is no cap, a negative limit is ErrInvalid.
	Limit int
}

// ResultRow is one check result of one run, without its tables and data (which stay in the
// run's report).
type ResultRow struct {
	RunID     string
	StartedAt time.Time
	NewRef    string
	Layer     check.Layer
	Check     string
	Status    check.Status
	Measured  string
	Baseline  string
	Threshold string
	Source    string
	Message   string
}

// Sample is one measurement of a soak run.
type Sample struct {
	// Seq numbers the samples of one run from 1, in the order they were appended.
	Seq int64
	// Tick is the sampling round (of a soak) the sample was taken in, from 1; 0 for none. A
	// run holds at most one sample of a tick and metric.
	Tick   int64
	Time   time.Time
	Metric string
	Value  float64
}

// Repository returns ref without its digest ("@sha256:…") and tag (":1.2"): the image
// repository that Filter.Image also matches. A port in the registry host is kept.
func Repository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
