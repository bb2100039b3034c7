package ledger

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Formats are the formats Write renders.
var Formats = []string{"text", "json", "markdown"}

// Write renders r in format (one of Formats).
func Write(w io.Writer, r Report, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "text":
		return write(w, r, false)
	case "markdown":
		return write(w, r, true)
	}
	return fmt.Errorf("ledger: unknown format %q: use %s", format, strings.Join(Formats, ", "))
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// days writes a duration in days and hours, the scale patching is measured in.
func days(d report.Duration) string {
	t := time.Duration(d)
	dd, h := int(t/(24*time.Hour)), int(t%(24*time.Hour)/time.Hour)
	switch {
	case dd > 0:
		return fmt.Sprintf("%dd %dh", dd, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, int(t%time.Hour/time.Minute))
	}
	return t.Round(time.Second).String()
}

func decisions(r Report) string {
	counts := r.Decisions()
	var parts []string
	for _, d := range []verdict.Decision{verdict.Go, verdict.Caution, verdict.NoGo, verdict.Error} {
		if counts[d] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[d], d))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// table is a list of rows drawn as a Markdown table or aligned text.
type table struct {
	head []string
	rows [][]string
}

func (t table) write(b *strings.Builder, md bool) {
	if len(t.rows) == 0 {
		b.WriteString("none\n")
		return
	}
	if md {
		b.WriteString("| " + strings.Join(t.head, " | ") + " |\n|" + strings.Repeat("---|", len(t.head)) + "\n")
		for _, r := range t.rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = strings.ReplaceAll(c, "|", "\\|")
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		return
	}
	tw := tabwriter.NewWriter(b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// Title names the ledger and its period.
func (r Report) Title() string {
	period := "all time to " + stamp(r.Now)
	if !r.Since.IsZero() {
		period = stamp(r.Since) + " to " + stamp(r.Now)
	}
	return "Patch ledger, " + period + " UTC"
}

// Summary is the ledger's headline figures, as label and value.
func (r Report) Summary() [][2]string {
	mttp := "n/a (no applied patch was seen first)"
	if r.Timed > 0 {
		mttp = fmt.Sprintf("%s over %d patch(es)", days(r.MeanTimeToPatch), r.Timed)
	}
	rate := "n/a (nothing applied)"
	if r.Applied > 0 {
		rate = fmt.Sprintf("%.0f%% (%d of %d applied, rollback within %s)", r.RegressionRate*100, len(r.Regressions), r.Applied, days(r.RegressionWindow))
	}
	return [][2]string{{"Patches applied", fmt.Sprint(r.Applied)}, {"Mean time to patch (first seen → applied)", mttp},
		{"Regression rate", rate}, {"Checks", decisions(r)}}
}

// Section is one table of the ledger.
type Section struct {
	Title string
	Head  []string
	Rows  [][]string
}

// Sections is the ledger's tables: remediation by severity, adoption, regressions, changelog
// (newest first).
func (r Report) Sections() []Section {
	sev := Section{Title: "Time to remediation by severity", Head: []string{"severity", "patches", "mean", "max"}}
	for _, s := range r.BySeverity {
		sev.Rows = append(sev.Rows, []string{s.Severity.String(), fmt.Sprint(s.Patches), days(s.Mean), days(s.Max)})
	}
	ad := Section{Title: "Adoption of the newest patch", Head: []string{"image", "newest patch", "on it"}}
	for _, a := range r.Adoption {
		ad.Rows = append(ad.Rows, []string{a.Image, a.Newest, fmt.Sprintf("%d of %d", a.OnNewest, a.Total)})
	}
	reg := Section{Title: "Regressions", Head: []string{"patch", "applied", "incident", "after", "reason"}}
	for _, g := range r.Regressions {
		reg.Rows = append(reg.Rows, []string{g.ToRef, stamp(g.Applied), g.Incident, days(g.After), g.Reason})
	}
	log := Section{Title: "Changelog", Head: []string{"time", "event", "patch", "decision", "run", "note"}}
	for _, e := range slices.Backward(r.Changelog) {
		log.Rows = append(log.Rows, []string{stamp(e.Time), string(e.Kind), e.ToRef, orDash(string(e.Decision)), orDash(e.RunID), orDash(e.Note)})
	}
	if !r.slas {
		return []Section{sev, ad, reg, log}
	}
	own := Section{Title: "Open patches by owner and severity", Head: []string{"owner", "severity", "open", "SLA breaches", "most late"}}
	for _, l := range r.ByOwner {
		late := "-"
		if l.MostLate > 0 {
			late = days(l.MostLate)
		}
		own.Rows = append(own.Rows, []string{l.Owner, l.Severity.String(), fmt.Sprint(l.Open), fmt.Sprint(l.Breaches), late})
	}
	br := Section{Title: "SLA breaches", Head: []string{"owner", "reference", "patch", "severity", "seen", "due", "late by"}}
	for _, p := range r.Open {
		if p.Late > 0 {
			br.Rows = append(br.Rows, []string{p.Owner, fmt.Sprintf("%s:%d", p.File, p.Line), p.ToRef, p.Severity.String(), stamp(p.Since), stamp(p.Due), days(p.Late)})
		}
	}
	return []Section{sev, ad, own, br, reg, log}
}

func write(w io.Writer, r Report, md bool) error {
	var b strings.Builder
	h1, h2, bullet := "", "", ""
	if md {
		h1, h2, bullet = "# ", "\n## ", "- "
	}
	fmt.Fprintf(&b, "%s%s\n\n", h1, r.Title())
	for _, kv := range r.Summary() {
		fmt.Fprintf(&b, "%s%s: %s\n", bullet, kv[0], kv[1])
	}
	for _, sec := range r.Sections() {
		fmt.Fprintf(&b, "%s%s\n\n", sectionHead(h2), sec.Title)
		table{head: sec.Head, rows: sec.Rows}.write(&b, md)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sectionHead(h2 string) string {
	if h2 == "" {
		return "\n"
	}
	return h2
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
