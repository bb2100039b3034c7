package store

import (
	"time"

	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// PatchKind says what happened to a base-image patch.
type PatchKind string

// The kinds of patch event, in the order a patch usually meets them.
const (
	PatchSeen       PatchKind = "seen"        // the patch was first found in its registry
	PatchChecked    PatchKind = "checked"     // plimsoll check ran on it (RunID, Decision)
	PatchApplied    PatchKind = "applied"     // references were rewritten to it
	PatchProposed   PatchKind = "proposed"    // a Git branch rewriting them was made for review (Note names it)
	PatchRolledBack PatchKind = "rolled-back" // it was taken back out
	PatchException  PatchKind = "exception"   // someone decided not to take it (Note says why)
)

// PatchKinds lists every kind of patch event.
var PatchKinds = []PatchKind{PatchSeen, PatchChecked, PatchProposed, PatchApplied, PatchRolledBack, PatchException}

// PatchEvent is one entry of the patch ledger: one thing that happened to one patch of one
// image repository.
type PatchEvent struct {
	// ID names the event; RecordPatch assigns one when it is empty.
	ID string `json:"id"`
	// Image is the repository the patch is for ("registry.example.com/base/alpine").
	Image string `json:"image"`
	// FromRef is the reference in use before the patch, ToRef the patch ("alpine:3.19.4"),
	// ToDigest the patch's digest.
	FromRef  string    `json:"fromRef,omitempty"`
	ToRef    string    `json:"toRef"`
	ToDigest string    `json:"toDigest,omitempty"`
	Kind     PatchKind `json:"kind"`
	// RunID and Decision are the check run of a checked event.
	RunID    string           `json:"runID,omitempty"`
	Decision verdict.Decision `json:"decision,omitempty"`
	// Severity is the highest severity among the vulnerabilities the patch fixes, CVEs their IDs.
	Severity scan.Severity `json:"severity"`
	CVEs     []string      `json:"cves,omitempty"`
	Time     time.Time     `json:"time"`
	Note     string        `json:"note,omitempty"`
}

// PatchFilter selects patch events. Zero fields match everything.
type PatchFilter struct {
	// Image matches the event's repository exactly.
	Image string
	Kind  PatchKind
	// ToDigest matches the patch's digest exactly.
	ToDigest string
	// Since matches events at or after it.
	Since time.Time
}

// IncidentKind says what went wrong in a delivery.
type IncidentKind string

// The kinds of incident.
const (
	IncidentRollback       IncidentKind = "rollback"
	IncidentAbortedRollout IncidentKind = "aborted-rollout"
)

// Incident is one delivery that went wrong: a rollback or an aborted rollout of a workload.
type Incident struct {
	// ID names the incident; PutIncident stores it under this ID, replacing what was there.
	ID        string       `json:"id"`
	Kind      IncidentKind `json:"kind"`
	Namespace string       `json:"namespace,omitempty"`
	Workload  string       `json:"workload"`
	// FromImage is the image rolled away from (the one that misbehaved), ToImage the one
	// rolled back to.
	FromImage string          `json:"fromImage"`
	ToImage   string          `json:"toImage"`
	Reason    string          `json:"reason"`
	StartedAt time.Time       `json:"startedAt"`
	EndedAt   time.Time       `json:"endedAt"`
	Timeline  []IncidentEvent `json:"timeline"`
}

// IncidentEvent is one step of an incident's timeline.
type IncidentEvent struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// IncidentFilter selects incidents. Zero fields match everything.
type IncidentFilter struct {
	// Since matches incidents started at or after it.
	Since time.Time
	// Workload matches the incident's workload exactly.
	Workload string
}
