package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/plimsoll/plimsoll/internal/check"
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
	if err := enc.Encode(r); err != nil { // Report.MarshalJSON normalizes
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// MarshalJSON writes r as summary.json has it, whoever encodes it (the JSON encoder, the run
// history): with a schema version and [] for every empty list.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode((*plain)(normalized(&r))); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
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
		results := make([]check.Result, len(l.Results))
		for j, res := range l.Results {
			if res.Tables != nil {
				tables := make([]check.Table, len(res.Tables))
				for k, t := range res.Tables {
					t.Columns, t.Rows = orEmpty(t.Columns), orEmpty(t.Rows)
					tables[k] = t
				}
				res.Tables = tables
			}
			results[j] = res
		}
		l.Results = results
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
