package sqldb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// newID returns a random event id.
func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// RecordPatch records e under e.ID (a new id when empty), replacing an event of that id.
func (s *Store) RecordPatch(ctx context.Context, e store.PatchEvent) error {
	switch {
	case strings.TrimSpace(e.Image) == "":
		return fmt.Errorf("record patch: %w: empty image", store.ErrInvalid)
	case !slices.Contains(store.PatchKinds, e.Kind):
		return fmt.Errorf("record patch: %w: unknown kind %q", store.ErrInvalid, e.Kind)
	case e.Time.IsZero():
		return fmt.Errorf("record patch: %w: no time", store.ErrInvalid)
	case e.Severity < scan.Unknown || e.Severity > scan.Critical:
		return fmt.Errorf("record patch: %w: severity %d out of range", store.ErrInvalid, int(e.Severity))
	}
	if e.ID == "" {
		id, err := newID()
		if err != nil {
			return fmt.Errorf("record patch: %w", err)
		}
		e.ID = id
	}
	cves, err := json.Marshal(nonNil(e.CVEs))
	if err != nil {
		return fmt.Errorf("record patch: %w", err)
	}
	err = s.db.Exec(ctx, s.q(`INSERT INTO patch_events (id, image, from_ref, to_ref, to_digest, kind, run_id,
			decision, severity, cves, time_ns, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET image = excluded.image, from_ref = excluded.from_ref,
			to_ref = excluded.to_ref, to_digest = excluded.to_digest, kind = excluded.kind,
			run_id = excluded.run_id, decision = excluded.decision, severity = excluded.severity,
			cves = excluded.cves, time_ns = excluded.time_ns, note = excluded.note`),
		e.ID, e.Image, e.FromRef, e.ToRef, e.ToDigest, string(e.Kind), e.RunID, string(e.Decision),
		e.Severity.String(), string(cves), nanos(e.Time), e.Note)
	if err != nil {
		return fmt.Errorf("%s: record patch %s: %w", s.d.Name, e.ID, err)
	}
	return nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// PatchEvents returns the patch events matching f, oldest first (by time, then id).
func (s *Store) PatchEvents(ctx context.Context, f store.PatchFilter) ([]store.PatchEvent, error) {
	var (
		conds []string
		args  []any
	)
	if f.Image != "" {
		conds, args = append(conds, `image = ?`), append(args, f.Image)
	}
	if f.Kind != "" {
		conds, args = append(conds, `kind = ?`), append(args, string(f.Kind))
	}
	if f.ToDigest != "" {
		conds, args = append(conds, `to_digest = ?`), append(args, f.ToDigest)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, `time_ns >= ?`), append(args, f.Since.UnixNano())
	}
	query, args := finish(`SELECT id, image, from_ref, to_ref, to_digest, kind, run_id, decision, severity,
		cves, time_ns, note FROM patch_events`, conds, "time_ns, id", 0, args)
	var out []store.PatchEvent
	err := s.db.Query(ctx, s.q(query), func(r Scanner) error {
		var (
			e                        store.PatchEvent
			kind, decision, sev, cvs string
			t                        int64
		)
		if err := r.Scan(&e.ID, &e.Image, &e.FromRef, &e.ToRef, &e.ToDigest, &kind, &e.RunID, &decision,
			&sev, &cvs, &t, &e.Note); err != nil {
			return err
		}
		if err := e.Severity.UnmarshalText([]byte(sev)); err != nil {
			return fmt.Errorf("patch event %s: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(cvs), &e.CVEs); err != nil {
			return fmt.Errorf("patch event %s: cves: %w", e.ID, err)
		}
		if len(e.CVEs) == 0 {
			e.CVEs = nil
		}
		e.Kind, e.Decision, e.Time = store.PatchKind(kind), verdict.Decision(decision), fromNanos(t)
		out = append(out, e)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: patch events: %w", s.d.Name, err)
	}
	return out, nil
}

// PutIncident records in under its id, replacing an incident of that id.
func (s *Store) PutIncident(ctx context.Context, in store.Incident) error {
	switch {
	case strings.TrimSpace(in.ID) == "":
		return fmt.Errorf("put incident: %w: empty id", store.ErrInvalid)
	case in.Kind != store.IncidentRollback && in.Kind != store.IncidentAbortedRollout:
		return fmt.Errorf("put incident %s: %w: unknown kind %q", in.ID, store.ErrInvalid, in.Kind)
	case in.StartedAt.IsZero():
		return fmt.Errorf("put incident %s: %w: no start time", in.ID, store.ErrInvalid)
	}
	tl := in.Timeline
	if tl == nil {
		tl = []store.IncidentEvent{}
	}
	doc, err := json.Marshal(tl)
	if err != nil {
		return fmt.Errorf("put incident %s: %w", in.ID, err)
	}
	err = s.db.Exec(ctx, s.q(`INSERT INTO incidents (id, kind, namespace, workload, from_image, to_image, reason,
			started_ns, ended_ns, timeline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, namespace = excluded.namespace,
			workload = excluded.workload, from_image = excluded.from_image, to_image = excluded.to_image,
			reason = excluded.reason, started_ns = excluded.started_ns, ended_ns = excluded.ended_ns,
			timeline = excluded.timeline`),
		in.ID, string(in.Kind), in.Namespace, in.Workload, in.FromImage, in.ToImage, in.Reason,
		nanos(in.StartedAt), nanos(in.EndedAt), string(doc))
	if err != nil {
		return fmt.Errorf("%s: put incident %s: %w", s.d.Name, in.ID, err)
	}
	return nil
}

// Incidents returns the incidents matching f, newest first (by start time, then id).
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	var (
		conds []string
		args  []any
	)
	if f.Workload != "" {
		conds, args = append(conds, `workload = ?`), append(args, f.Workload)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, `started_ns >= ?`), append(args, f.Since.UnixNano())
	}
	query, args := finish(`SELECT id, kind, namespace, workload, from_image, to_image, reason, started_ns,
		ended_ns, timeline FROM incidents`, conds, "started_ns DESC, id DESC", 0, args)
	var out []store.Incident
	err := s.db.Query(ctx, s.q(query), func(r Scanner) error {
		var (
			in             store.Incident
			kind, tl       string
			started, ended int64
		)
		if err := r.Scan(&in.ID, &kind, &in.Namespace, &in.Workload, &in.FromImage, &in.ToImage, &in.Reason,
			&started, &ended, &tl); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(tl), &in.Timeline); err != nil {
			return fmt.Errorf("incident %s: timeline: %w", in.ID, err)
		}
		for i := range in.Timeline {
			in.Timeline[i].Time = in.Timeline[i].Time.UTC()
		}
		in.Kind, in.StartedAt, in.EndedAt = store.IncidentKind(kind), fromNanos(started), fromNanos(ended)
		out = append(out, in)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: incidents: %w", s.d.Name, err)
	}
	return out, nil
}
