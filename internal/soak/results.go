package soak

import (
	"fmt"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// Source says where Layer 6's numbers come from, for reports.
const Source = "soak: cgroup memory and CPU, host /proc/<pid>/{fd,status,net/tcp,net/tcp6}, a health probe on 127.0.0.1 and the container's logs, every interval under continuous load; Theil–Sen trends after the warm-up"

// ResultData is the machine-readable evidence of one Layer 6 result: both images' findings
// and series, for reports to chart.
type ResultData struct {
	New    *Finding          `json:"new"`
	Old    *Finding          `json:"old,omitempty"`
	Series map[string]Series `json:"series"`
	// Ticks of Planned samples were taken; Stopped says why the soak ended early.
	Ticks   int      `json:"ticks"`
	Planned int      `json:"planned"`
	Stopped string   `json:"stopped,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Plots are the SVG files of the series, when a report directory was given.
	Plots []string `json:"plots,omitempty"`
}

// growthMetrics are compared as trends: NEW is only as bad as OLD when it grows no faster.
var growthMetrics = map[string]bool{"memory": true, "fds": true, "connections": true}

// Results turns an outcome into Layer 6's results, one per metric (memory, fds, connections,
// cpu, health, errors). NEW is judged on its own findings; with OLD, a finding OLD shares (a
// leak that grows as fast in OLD, the same health failures) is a CAUTION, not a NO-GO: the
// upgrade did not bring it. A soak cut short by a stop limit says so in every result.
func Results(o *Outcome) []check.Result {
	na := o.Analyses["new"]
	if na == nil {
		return nil
	}
	oa := o.Analyses["old"]
	var out []check.Result
	for i, nf := range na.Findings() {
		r := check.Result{Layer: check.L6Soak, Check: nf.Check, Status: nf.Status, Measured: nf.Measured,
			Threshold: nf.Threshold, Source: Source, Message: "NEW: " + nf.Message}
		data := &ResultData{New: nf.Finding, Series: map[string]Series{}, Ticks: o.Ticks, Planned: o.Planned,
			Stopped: o.Stopped, Notes: o.Notes}
		for name, rec := range o.Recordings {
			data.Series[name] = *seriesOf(rec, nf.Check)
		}
		if oa != nil {
			of := oa.Findings()[i]
			data.Old = of.Finding
			r.Baseline = of.Measured
			r.Message += "; OLD: " + of.Message
			if shared(nf, of) {
				r.Status = check.StatusWarn
				r.Message = "NEW as OLD (not brought by the upgrade): " + nf.Message + "; OLD: " + of.Message
			}
		}
		if o.Stopped != "" && r.Status == check.StatusPass {
			r.Message += fmt.Sprintf(" (the soak stopped at sample %d of %d)", o.Ticks, o.Planned)
		}
		r.Data = data
		out = append(out, r)
	}
	return out
}

// shared reports whether OLD has NEW's failure too, as badly.
func shared(nf, of NamedFinding) bool {
	if nf.Status != check.StatusFail || of.Status != check.StatusFail {
		return false
	}
	if growthMetrics[nf.Check] {
		return nf.Leak && of.Leak && of.Growth >= 0.8*nf.Growth
	}
	return true
}

// seriesOf is the series a check's metric is drawn from.
func seriesOf(r *Recording, checkName string) *Series {
	switch checkName {
	case "memory":
		return &r.RSS
	case "fds":
		return &r.FDs
	case "connections":
		return &r.Conns
	case "cpu":
		return &r.CPU
	case "health":
		return &r.Health
	}
	return &r.ErrorLines
}

// Summary is a one-line account of an outcome for people.
func (o *Outcome) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %s: %d of %d samples, one every %s, %s warm-up", o.RunID, o.Ticks, o.Planned, o.Interval, o.Window.Warmup)
	if o.Stopped != "" {
		b.WriteString("; stopped early: " + o.Stopped)
	}
	return b.String()
}
