// Package check defines what one check of the gate is and what it reports: the Check
// interface, the Result it returns and the Status order in which the worst result wins.
//
// A check compares a baseline (the OLD image) with a candidate (the NEW image). A regression is
// a Result with StatusFail, never an error; an error from Run means the check could not tell and
// is recorded as StatusError by the gate.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Status is the outcome of one check. The order is the worst-wins order: a larger value is worse.
type Status int

// Statuses, from best to worst.
const (
	StatusPass         Status = iota // measured and within the threshold
	StatusSkipped                    // not run: not planned, narrowed away with --layers, or not built yet
	StatusWarn                       // measured, worse than the baseline but within the no-go threshold (CAUTION)
	StatusInconclusive               // measured, but too noisy or too little data to tell at the asked threshold
	StatusError                      // could not be measured
	StatusFail                       // measured and past the no-go threshold (NO-GO)
)

var statusNames = [...]string{"pass", "skipped", "warn", "inconclusive", "error", "fail"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "status(" + strconv.Itoa(int(s)) + ")"
	}
	return statusNames[s]
}

// MarshalText writes the status by name, so reports stay readable and stable.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

// Worst returns the worst of the statuses, StatusPass for none.
func Worst(ss ...Status) Status {
	w := StatusPass
	for _, s := range ss {
		if s > w {
			w = s
		}
	}
	return w
}

// Layer numbers the six layers of the gate.
type Layer int

// The layers, in the order the gate runs them.
const (
	L1Diff       Layer = 1 // image diff: packages, config, vulnerabilities (no container)
	L2Smoke      Layer = 2 // start, health, logs, one real request
	L3Functional Layer = 3 // the application's own test suite
	L4Perf       Layer = 4 // start time, memory, latency, throughput
	L5Harden     Layer = 5 // non-root, shell-less, read-only root, signature, SBOM
	L6Soak       Layer = 6 // hours under load: memory, FDs, health, errors
)

// AllLayers lists every layer in run order.
var AllLayers = []Layer{L1Diff, L2Smoke, L3Functional, L4Perf, L5Harden, L6Soak}

var layerNames = map[Layer]string{
	L1Diff: "diff", L2Smoke: "smoke", L3Functional: "functional",
	L4Perf: "perf", L5Harden: "harden", L6Soak: "soak",
}

// Name is the layer's short name, as used by --layers and in reports.
func (l Layer) Name() string {
	if n, ok := layerNames[l]; ok {
		return n
	}
	return "layer" + strconv.Itoa(int(l))
}

func (l Layer) String() string { return "L" + strconv.Itoa(int(l)) + " " + l.Name() }

// ParseLayer reads a layer by number ("1", "L1") or by name ("diff").
func ParseLayer(s string) (Layer, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "l")
	if n, err := strconv.Atoi(t); err == nil {
		if n >= 1 && n <= len(AllLayers) {
			return Layer(n), nil
		}
		return 0, fmt.Errorf("unknown layer %q: layers are 1-6", s)
	}
	for l, n := range layerNames {
		if n == strings.ToLower(strings.TrimSpace(s)) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown layer %q: use 1-6 or diff, smoke, functional, perf, harden, soak", s)
}

// MarshalJSON writes a layer as its number.
func (l Layer) MarshalJSON() ([]byte, error) { return json.Marshal(int(l)) }

// Table is evidence a result carries for people: reports render it as a table.
type Table struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Result is what one check found. Every result that is not a pass says why in Message and,
// where a number decided it, what was measured, against which baseline and threshold, and where
// the number came from.
type Result struct {
	Layer     Layer  `json:"layer"`
	Check     string `json:"check"`
	Status    Status `json:"status"`
	Message   string `json:"message"`
	Measured  string `json:"measured,omitempty"`
	Baseline  string `json:"baseline,omitempty"`
	Threshold string `json:"threshold,omitempty"`
	Source    string `json:"source,omitempty"`
	// Tables hold the evidence behind the message (a package diff, a finding list).
	Tables []Table `json:"tables,omitempty"`
	// Data is the machine-readable evidence, written as-is into summary.json.
	Data any `json:"data,omitempty"`
}

// Check is one comparison of the gate.
type Check interface {
	// Name is unique within the layer; reports and JUnit test cases use it.
	Name() string
	// Run compares env.Old with env.New. A non-nil error means the check could not run; a
	// regression is a Result with StatusFail, not an error. Run honours ctx's deadline.
	Run(ctx context.Context, env *Env) (Result, error)
}
