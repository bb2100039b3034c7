// Package sqldb is the store.Store both SQL backends share: one schema, one set of queries and
// one migration runner over database/sql, with the few differences between SQLite and
// PostgreSQL (placeholders, the migration lock) in a Dialect.
package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Dialect is what differs between the SQL backends.
type Dialect struct {
	// Name is "sqlite" or "postgres", for error messages.
	Name string
	// Numbered is true when placeholders are $1, $2 … rather than ?.
	Numbered bool
	// LockMigrations, when set, runs first in each migration transaction to keep two
	// processes from migrating at once. SQLite needs none: its transactions begin IMMEDIATE.
	LockMigrations string
}

// migrations are the schema, in order; migration i brings the schema to version i+1. A
// migration is never edited once released: a change is a new migration. Times are Unix
// nanoseconds (0 for the zero time) so that both databases compare and sort them the same.
var migrations = [][]string{
	{
		`CREATE TABLE runs (
			id          TEXT PRIMARY KEY,
			started_ns  BIGINT NOT NULL,
			finished_ns BIGINT NOT NULL,
			old_ref     TEXT NOT NULL,
			old_repo    TEXT NOT NULL,
			old_digest  TEXT NOT NULL,
			new_ref     TEXT NOT NULL,
			new_repo    TEXT NOT NULL,
			new_digest  TEXT NOT NULL,
			plan_kind   TEXT NOT NULL,
			decision    TEXT NOT NULL,
			summary     TEXT NOT NULL,
			report      TEXT NOT NULL
		)`,
		`CREATE INDEX runs_started ON runs (started_ns)`,
		`CREATE TABLE results (
			run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
			ord        INTEGER NOT NULL,
			layer      INTEGER NOT NULL,
			check_name TEXT NOT NULL,
			status     TEXT NOT NULL,
			measured   TEXT NOT NULL,
			baseline   TEXT NOT NULL,
			threshold  TEXT NOT NULL,
			source     TEXT NOT NULL,
			message    TEXT NOT NULL,
			PRIMARY KEY (run_id, ord)
		)`,
		`CREATE INDEX results_check ON results (layer, check_name)`,
		`CREATE TABLE sample_runs (
			run_id   TEXT PRIMARY KEY,
			last_seq BIGINT NOT NULL
		)`,
		`CREATE TABLE samples (
			run_id  TEXT NOT NULL,
			seq     BIGINT NOT NULL,
			time_ns BIGINT NOT NULL,
			metric  TEXT NOT NULL,
			value   DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (run_id, seq)
		)`,
	},
	{
		`CREATE TABLE patch_events (
			id        TEXT PRIMARY KEY,
			image     TEXT NOT NULL,
			from_ref  TEXT NOT NULL,
			to_ref    TEXT NOT NULL,
			to_digest TEXT NOT NULL,
			kind      TEXT NOT NULL,
			run_id    TEXT NOT NULL,
			decision  TEXT NOT NULL,
			severity  TEXT NOT NULL,
			cves      TEXT NOT NULL,
			time_ns   BIGINT NOT NULL,
			note      TEXT NOT NULL
		)`,
		`CREATE INDEX patch_events_image ON patch_events (image, time_ns)`,
		`CREATE TABLE incidents (
			id         TEXT PRIMARY KEY,
			kind       TEXT NOT NULL,
			namespace  TEXT NOT NULL,
			workload   TEXT NOT NULL,
			from_image TEXT NOT NULL,
			to_image   TEXT NOT NULL,
			reason     TEXT NOT NULL,
			started_ns BIGINT NOT NULL,
			ended_ns   BIGINT NOT NULL,
			timeline   TEXT NOT NULL
		)`,
		`CREATE INDEX incidents_started ON incidents (started_ns)`,
	},
	// 3: each tick of a soak stored at most once, and leases. Samples get the tick they were
	// taken in: a soak stores a "tick" sample (its value the tick's number) followed by the
	// tick's other samples, all in one append. Two processes resuming one soak at once stored
	// ticks twice: a tick's later copies (after a tick sample whose number was already stored)
	// are deleted, its first copy kept, so nothing recorded once is lost.
	{
		`ALTER TABLE samples ADD COLUMN tick BIGINT NOT NULL DEFAULT 0`,
		`CREATE INDEX samples_metric_seq ON samples (run_id, metric, seq)`,
		// The tick samples: their number, or -1 for a copy of a tick stored before.
		`UPDATE samples SET tick = CASE WHEN EXISTS (
				SELECT 1 FROM samples d WHERE d.run_id = samples.run_id AND d.metric = 'tick'
					AND d.value = samples.value AND d.seq < samples.seq)
			THEN -1 ELSE CAST(value AS BIGINT) END
			WHERE metric = 'tick' AND value >= 1`,
		// Every other sample belongs to the last tick sample before it.
		`UPDATE samples SET tick = COALESCE((
				SELECT t.tick FROM samples t WHERE t.run_id = samples.run_id AND t.metric = 'tick'
					AND t.seq < samples.seq ORDER BY t.seq DESC LIMIT 1), 0)
			WHERE metric <> 'tick'`,
		`DELETE FROM samples WHERE tick = -1`,
		`DROP INDEX samples_metric_seq`,
		`CREATE UNIQUE INDEX samples_tick ON samples (run_id, tick, metric) WHERE tick > 0`,
		`CREATE TABLE leases (
			name       TEXT PRIMARY KEY,
			host       TEXT NOT NULL,
			pid        BIGINT NOT NULL,
			started_ns BIGINT NOT NULL,
			expires_ns BIGINT NOT NULL
		)`,
	},
}

// SchemaVersion is the schema version this binary migrates databases to.
var SchemaVersion = len(migrations)

// Store is a store.Store over a Conn.
type Store struct {
	db Conn
	d  Dialect
}

var _ store.Store = (*Store)(nil)

// Open migrates db to SchemaVersion and returns a Store over it; the Store owns db and closes
// it in Close (and on error here). A database with a newer schema is ErrSchemaTooNew.
func Open(ctx context.Context, db Conn, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

// q rewrites the ? placeholders of query for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// migrate applies the missing migrations, each once and in its own transaction.
func (s *Store) migrate(ctx context.Context) error {
	for {
		done := false
		err := s.db.Tx(ctx, func(tx Querier) error {
			if s.d.LockMigrations != "" {
				if err := tx.Exec(ctx, s.d.LockMigrations); err != nil {
					return fmt.Errorf("%s: lock for migration: %w", s.d.Name, err)
				}
			}
			if err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER PRIMARY KEY,
				applied_ns BIGINT NOT NULL
			)`); err != nil {
				return fmt.Errorf("%s: create schema_migrations: %w", s.d.Name, err)
			}
			v, err := schemaVersion(ctx, tx)
			if err != nil {
				return fmt.Errorf("%s: %w", s.d.Name, err)
			}
			if v > SchemaVersion {
				return fmt.Errorf("%w: the database is at schema version %d, this plimsoll knows up to %d: upgrade plimsoll",
					store.ErrSchemaTooNew, v, SchemaVersion)
			}
			if v == SchemaVersion {
				done = true
				return nil
			}
			for _, stmt := range migrations[v] {
				if err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: migration %d: %w", s.d.Name, v+1, err)
				}
			}
			if err := tx.Exec(ctx, s.q(`INSERT INTO schema_migrations (version, applied_ns) VALUES (?, ?)`),
				v+1, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("%s: record migration %d: %w", s.d.Name, v+1, err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

// queryRow runs a query that returns at most one row, scanning it into dest; it reports
// whether there was a row.
func queryRow(ctx context.Context, q Querier, query string, args []any, dest ...any) (bool, error) {
	found := false
	err := q.Query(ctx, query, func(r Scanner) error {
		if found {
			return errors.New("more than one row")
		}
		found = true
		return r.Scan(dest...)
	}, args...)
	return found, err
}

func schemaVersion(ctx context.Context, q Querier) (int, error) {
	var v sql.NullInt64
	if _, err := queryRow(ctx, q, `SELECT MAX(version) FROM schema_migrations`, nil, &v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// SchemaVersion returns the last migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.d.Name, err)
	}
	return v, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// PutRun records r, replacing any run stored under the same id.
func (s *Store) PutRun(ctx context.Context, r *report.Report) error {
	if r == nil {
		return fmt.Errorf("put run: %w: nil report", store.ErrInvalid)
	}
	if r.RunID == "" {
		return fmt.Errorf("put run: %w: the report has no run id", store.ErrInvalid)
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put run %s: encode report: %w", r.RunID, err)
	}
	var old report.Subject
	if r.Old != nil {
		old = *r.Old
	}
	return s.db.Tx(ctx, func(tx Querier) error {
		err := tx.Exec(ctx, s.q(`INSERT INTO runs (id, started_ns, finished_ns, old_ref, old_repo, old_digest,
				new_ref, new_repo, new_digest, plan_kind, decision, summary, report)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET started_ns = excluded.started_ns, finished_ns = excluded.finished_ns,
				old_ref = excluded.old_ref, old_repo = excluded.old_repo, old_digest = excluded.old_digest,
				new_ref = excluded.new_ref, new_repo = excluded.new_repo, new_digest = excluded.new_digest,
				plan_kind = excluded.plan_kind, decision = excluded.decision, summary = excluded.summary,
				report = excluded.report`),
			r.RunID, nanos(r.StartedAt), nanos(r.FinishedAt), old.Ref, store.Repository(old.Ref), old.Digest,
			r.New.Ref, store.Repository(r.New.Ref), r.New.Digest, r.Plan.Kind, string(r.Verdict.Decision),
			r.Verdict.Summary, string(doc))
		if err != nil {
			return fmt.Errorf("%s: put run %s: %w", s.d.Name, r.RunID, err)
		}
		if err := tx.Exec(ctx, s.q(`DELETE FROM results WHERE run_id = ?`), r.RunID); err != nil {
			return fmt.Errorf("%s: put run %s: replace results: %w", s.d.Name, r.RunID, err)
		}
		ins := s.q(`INSERT INTO results (run_id, ord, layer, check_name, status,
			measured, baseline, threshold, source, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		ord := 0
		for _, l := range r.Layers {
			for _, res := range l.Results {
				ord++
				layer := res.Layer
				if layer == 0 {
					layer = l.Layer
				}
				if err := tx.Exec(ctx, ins, r.RunID, ord, int(layer), res.Check, res.Status.String(),
					res.Measured, res.Baseline, res.Threshold, res.Source, res.Message); err != nil {
					return fmt.Errorf("%s: put run %s: result %d: %w", s.d.Name, r.RunID, ord, err)
				}
			}
		}
		return nil
	})
}

// GetRun returns the report stored under id.
func (s *Store) GetRun(ctx context.Context, id string) (*report.Report, error) {
	var doc string
	found, err := queryRow(ctx, s.db, s.q(`SELECT report FROM runs WHERE id = ?`), []any{id}, &doc)
	if err != nil {
		return nil, fmt.Errorf("%s: get run %q: %w", s.d.Name, id, err)
	}
	if !found {
		return nil, fmt.Errorf("get run %q: %w", id, store.ErrNotFound)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("%s: get run %q: decode report: %w", s.d.Name, id, err)
	}
	return &r, nil
}

// where builds the conditions shared by ListRuns and Results.
func where(image string, since time.Time) (conds []string, args []any) {
	if image != "" {
		conds = append(conds, `(runs.new_ref = ? OR runs.new_repo = ? OR runs.old_ref = ? OR runs.old_repo = ?)`)
		args = append(args, image, image, image, image)
	}
	if !since.IsZero() {
		conds = append(conds, `runs.started_ns >= ?`)
		args = append(args, since.UnixNano())
	}
	return conds, args
}

func finish(query string, conds []string, order string, limit int, args []any) (string, []any) {
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY " + order
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	return query, args
}

// ListRuns returns the runs matching f, newest first.
func (s *Store) ListRuns(ctx context.Context, f store.Filter) ([]store.RunSummary, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: %w: negative limit %d", store.ErrInvalid, f.Limit)
	}
	conds, args := where(f.Image, f.Since)
	if f.Decision != "" {
		conds = append(conds, `runs.decision = ?`)
		args = append(args, string(f.Decision))
	}
	query, args := finish(`SELECT id, started_ns, finished_ns, old_ref, old_digest, new_ref, new_digest,
		plan_kind, decision, summary FROM runs`, conds, "started_ns DESC, id DESC", f.Limit, args)
	var out []store.RunSummary
	err := s.db.Query(ctx, s.q(query), func(r Scanner) error {
		var rs store.RunSummary
		var started, finished int64
		var decision string
		if err := r.Scan(&rs.ID, &started, &finished, &rs.OldRef, &rs.OldDigest, &rs.NewRef, &rs.NewDigest,
			&rs.PlanKind, &decision, &rs.Summary); err != nil {
			return err
		}
		rs.StartedAt, rs.FinishedAt, rs.Decision = fromNanos(started), fromNanos(finished), verdict.Decision(decision)
		out = append(out, rs)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: list runs: %w", s.d.Name, err)
	}
	return out, nil
}

// Results returns the check results matching f, newest run first.
func (s *Store) Results(ctx context.Context, f store.ResultFilter) ([]store.ResultRow, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("results: %w: negative limit %d", store.ErrInvalid, f.Limit)
	}
	conds, args := where(f.Image, f.Since)
	if f.Layer != 0 {
		conds = append(conds, `results.layer = ?`)
		args = append(args, int(f.Layer))
	}
	if f.Check != "" {
		conds = append(conds, `results.check_name = ?`)
		args = append(args, f.Check)
	}
	query, args := finish(`SELECT runs.id, runs.started_ns, runs.new_ref, results.layer, results.check_name,
		results.status, results.measured, results.baseline, results.threshold, results.source, results.message
		FROM results JOIN runs ON runs.id = results.run_id`, conds,
		"runs.started_ns DESC, runs.id DESC, results.ord", f.Limit, args)
	var out []store.ResultRow
	err := s.db.Query(ctx, s.q(query), func(r Scanner) error {
		var rr store.ResultRow
		var started int64
		var layer int
		var status string
		if err := r.Scan(&rr.RunID, &started, &rr.NewRef, &layer, &rr.Check, &status,
			&rr.Measured, &rr.Baseline, &rr.Threshold, &rr.Source, &rr.Message); err != nil {
			return err
		}
		if err := rr.Status.UnmarshalText([]byte(status)); err != nil {
			return fmt.Errorf("run %s: %w", rr.RunID, err)
		}
		rr.StartedAt, rr.Layer = fromNanos(started), check.Layer(layer)
		out = append(out, rr)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: results: %w", s.d.Name, err)
	}
	return out, nil
}

// AppendSamples appends ss to the samples of runID in one transaction, skipping the samples
// of a tick and metric already stored.
func (s *Store) AppendSamples(ctx context.Context, runID string, ss ...store.Sample) error {
	if runID == "" {
		return fmt.Errorf("append samples: %w: empty run id", store.ErrInvalid)
	}
	if len(ss) == 0 {
		return nil
	}
	for i, sm := range ss {
		if math.IsNaN(sm.Value) || math.IsInf(sm.Value, 0) {
			return fmt.Errorf("append samples to %s: %w: sample %d (%s) is %v", runID, store.ErrInvalid, i, sm.Metric, sm.Value)
		}
	}
	return s.db.Tx(ctx, func(tx Querier) error {
		// The run's row first: it holds off other appends to the run (PostgreSQL locks the
		// row; SQLite's transaction already holds the write lock) until this one commits, so
		// the ticks read below are all there are.
		var last int64
		_, err := queryRow(ctx, tx, s.q(`INSERT INTO sample_runs (run_id, last_seq) VALUES (?, 0)
			ON CONFLICT (run_id) DO UPDATE SET last_seq = sample_runs.last_seq
			RETURNING last_seq`), []any{runID}, &last)
		if err != nil {
			return fmt.Errorf("%s: append samples to %s: %w", s.d.Name, runID, err)
		}
		keep, err := s.newSamples(ctx, tx, runID, ss)
		if err != nil {
			return fmt.Errorf("%s: append samples to %s: %w", s.d.Name, runID, err)
		}
		if len(keep) == 0 {
			return nil
		}
		if err := tx.Exec(ctx, s.q(`UPDATE sample_runs SET last_seq = ? WHERE run_id = ?`), last+int64(len(keep)), runID); err != nil {
			return fmt.Errorf("%s: append samples to %s: %w", s.d.Name, runID, err)
		}
		ins := s.q(`INSERT INTO samples (run_id, seq, tick, time_ns, metric, value) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, tick, metric) WHERE tick > 0 DO NOTHING`)
		for i, sm := range keep {
			if err := tx.Exec(ctx, ins, runID, last+1+int64(i), sm.Tick, nanos(sm.Time), sm.Metric, sm.Value); err != nil {
				return fmt.Errorf("%s: append samples to %s: %w", s.d.Name, runID, err)
			}
		}
		return nil
	})
}

// newSamples returns ss without the samples of a tick and metric stored already or earlier in
// ss.
func (s *Store) newSamples(ctx context.Context, tx Querier, runID string, ss []store.Sample) ([]store.Sample, error) {
	type key struct {
		tick   int64
		metric string
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, sm := range ss {
		if sm.Tick > 0 {
			lo, hi = min(lo, sm.Tick), max(hi, sm.Tick)
		}
	}
	if hi == 0 {
		return ss, nil
	}
	seen := map[key]bool{}
	err := tx.Query(ctx, s.q(`SELECT tick, metric FROM samples WHERE run_id = ? AND tick > 0 AND tick >= ? AND tick <= ?`),
		func(r Scanner) error {
			var k key
			if err := r.Scan(&k.tick, &k.metric); err != nil {
				return err
			}
			seen[k] = true
			return nil
		}, runID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read stored ticks: %w", err)
	}
	keep := make([]store.Sample, 0, len(ss))
	for _, sm := range ss {
		if sm.Tick > 0 {
			k := key{sm.Tick, sm.Metric}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		keep = append(keep, sm)
	}
	return keep, nil
}

// Samples returns the samples of runID numbered after `after`, in order.
func (s *Store) Samples(ctx context.Context, runID string, after int64) ([]store.Sample, error) {
	var out []store.Sample
	err := s.db.Query(ctx, s.q(`SELECT seq, tick, time_ns, metric, value FROM samples
		WHERE run_id = ? AND seq > ? ORDER BY seq`), func(r Scanner) error {
		var sm store.Sample
		var t int64
		if err := r.Scan(&sm.Seq, &sm.Tick, &t, &sm.Metric, &sm.Value); err != nil {
			return err
		}
		sm.Time = fromNanos(t)
		out = append(out, sm)
		return nil
	}, runID, after)
	if err != nil {
		return nil, fmt.Errorf("%s: samples of %s: %w", s.d.Name, runID, err)
	}
	return out, nil
}
