package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// JSON writes the report as it is (summary.json, documented in docs/summary-json.md), indented
// by two spaces with schemaVersion first. Lists are written as [] rather than null when empty,
// and a report without a schema version is written with SchemaVersion, so a reader can rely on
// both.
type JSON struct{}

// Format is the name --output knows it by.
func (JSON) Format() string { return "json" }

// Filename is the file WriteDir writes it to.
func (JSON) Filename() string { return "summary.json" }

// Encode writes r to w as JSON.
func (JSON) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalized(r)); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// normalized is a shallow copy of r with a schema version and no nil lists. r is not changed.
func normalized(r *Report) *Report {
	c := *r
	if c.SchemaVersion == "" {
		c.SchemaVersion = SchemaVersion
	}
	c.Plan.Layers = orEmpty(c.Plan.Layers)
	c.Plan.Reasons = orEmpty(c.Plan.Reasons)
	c.Verdict.Reasons = orEmpty(c.Verdict.Reasons)
	c.Layers = make([]Layer, len(r.Layers))
	for i, l := range r.Layers {
		l.Results = orEmpty(l.Results)
		c.Layers[i] = l
	}
	return &c
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
