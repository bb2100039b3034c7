// Package report holds the record of one run and writes it for people and machines: the
// terminal text view, summary.json (a versioned schema), junit.xml (one testsuite per layer, one
// testcase per check), summary.md (ready to post as a pull-request comment), report.html (one
// self-contained page with charts) and vulnerabilities.sarif (the introduced vulnerabilities,
// for code scanning).
package report

import (
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/timing"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// SchemaVersion names the layout of summary.json. It changes only when a field is removed or
// changes meaning; new fields may appear within a version.
const SchemaVersion = "plimsoll/report/v1"

// Report is everything one run found.
type Report struct {
	SchemaVersion string    `json:"schemaVersion"`
	Tool          Tool      `json:"tool"`
	RunID         string    `json:"runId"`
	StartedAt     time.Time `json:"startedAt"`
	FinishedAt    time.Time `json:"finishedAt"`
	// Old is nil for a first deployment.
	Old     *Subject        `json:"old"`
	New     Subject         `json:"new"`
	Plan    Plan            `json:"plan"`
	Layers  []Layer         `json:"layers"`
	Verdict verdict.Verdict `json:"verdict"`
	// Timings says where the run's wall time went; nil when it was not measured.
	Timings *Timings `json:"timings,omitempty"`
}

// TimingsOf reads the phase totals of rec; nil when rec is nil.
func TimingsOf(rec *timing.Recorder) *Timings {
	if rec == nil {
		return nil
	}
	d := func(p timing.Phase) Duration { return Duration(rec.Total(p)) }
	return &Timings{Resolve: d(timing.Resolve), Facts: d(timing.Facts), Inventory: d(timing.Inventory),
		Match: d(timing.Match), Diff: d(timing.Diff), Encode: d(timing.Encode)}
}

// Timings is the wall time each phase of the run took. Work on the two images that overlaps
// counts once; a phase that did not happen is 0. Encode covers the SBOMs and the report printed
// on standard output: a report cannot time its own writing.
type Timings struct {
	Resolve   Duration `json:"resolve"`
	Facts     Duration `json:"facts"`
	Inventory Duration `json:"inventory"`
	Match     Duration `json:"match"`
	Diff      Duration `json:"diff"`
	Encode    Duration `json:"encode"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Subject is one of the two images.
type Subject struct {
	Ref       string `json:"ref"`
	Name      string `json:"name,omitempty"`
	Transport string `json:"transport"`
	Digest    string `json:"digest"`
}

// Plan is the upgrade plan as the report shows it.
type Plan struct {
	Kind      string        `json:"kind"`
	Risk      string        `json:"risk"`
	Layers    []check.Layer `json:"layers"`
	Budget    Duration      `json:"budget"`
	Promotion string        `json:"promotion"`
	Reasons   []string      `json:"reasons"`
}

// Layer is one layer of the gate in this run.
type Layer struct {
	Layer check.Layer `json:"layer"`
	Name  string      `json:"name"`
	// State is "ran", "not-run" (planned, but could not or cannot run yet), "excluded" (narrowed
	// away by --layers) or "not-planned".
	State string `json:"state"`
	// Why says why a layer did not run.
	Why      string         `json:"why,omitempty"`
	Status   check.Status   `json:"status"`
	Duration Duration       `json:"duration"`
	Results  []check.Result `json:"results"`
}

// Layer states.
const (
	StateRan        = "ran"
	StateNotRun     = "not-run"
	StateExcluded   = "excluded"
	StateNotPlanned = "not-planned"
)

// Duration is a time.Duration written as Go duration text ("1m30s") in JSON.
type Duration time.Duration

// MarshalText writes d as Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
