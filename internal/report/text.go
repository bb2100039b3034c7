package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Text is the terminal view: the verdict in the first line, then the plan, the layers, every
// check (with its evidence when it did not pass) and the evidence tables. Tables show at most
// MaxRows rows (10 when MaxRows <= 0); summary.json has them all. Color adds ANSI colours and
// is meant for a terminal; without it the output holds no escape sequences at all, and control
// characters in the report's strings are always stripped, so a hostile package name cannot
// drive the terminal.
type Text struct {
	Color   bool
	MaxRows int
}

// defaultTextRows is how many rows of a table the text view shows.
const defaultTextRows = 10

// textCell is the widest a table cell gets in the text view.
const textCell = 60

// Format is the name --output knows it by.
func (Text) Format() string { return "text" }

// Filename is the file WriteDir writes it to.
func (Text) Filename() string { return "summary.txt" }

// Encode writes the text view of r to w.
func (t Text) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	maxRows := t.MaxRows
	if maxRows <= 0 {
		maxRows = defaultTextRows
	}
	p := painter(t.Color)
	var b strings.Builder

	// The verdict, in one line, and its summary.
	fmt.Fprintf(&b, "%s  %s", p.decision(r.Verdict.Decision, decisionLabel(r)), subjects(r))
	if pl := planLine(r); pl != "" {
		fmt.Fprintf(&b, "  (%s)", pl)
	}
	b.WriteString("\n")
	if r.Verdict.Summary != "" {
		b.WriteString(cleanLine(r.Verdict.Summary) + "\n")
	}

	// The images.
	b.WriteString("\n")
	var imgs [][]string
	if r.Old != nil {
		imgs = append(imgs, subjectRow("old", r.Old))
	}
	imgs = append(imgs, subjectRow("new", &r.New))
	for _, l := range textTable(check.Table{Rows: imgs}, 0, 0, "")[1:] {
		b.WriteString(l + "\n")
	}

	// The plan and why.
	if r.Plan.Kind != "" {
		b.WriteString("\n" + p.bold("Plan: "+cleanLine(r.Plan.Kind)) + "\n")
		var facts []string
		if len(r.Plan.Layers) > 0 {
			facts = append(facts, "layers "+layerList(r.Plan.Layers))
		}
		if r.Plan.Budget > 0 {
			facts = append(facts, "budget "+fmtDuration(r.Plan.Budget))
		}
		if len(facts) > 0 {
			b.WriteString("  " + strings.Join(facts, "; ") + "\n")
		}
		if r.Plan.Promotion != "" {
			b.WriteString("  promotion: " + cleanLine(r.Plan.Promotion) + "\n")
		}
		for _, why := range r.Plan.Reasons {
			b.WriteString("  - " + cleanLine(why) + "\n")
		}
	}

	// The layers.
	if len(r.Layers) > 0 {
		b.WriteString("\n" + p.bold("Layers") + "\n")
		lw, sw := 0, 0
		for _, l := range r.Layers {
			lw = max(lw, width(truncate(layerLabel(l), textCell)))
			if l.State == StateRan {
				sw = max(sw, width(l.Status.String()))
			}
		}
		for _, l := range r.Layers {
			name := truncate(layerLabel(l), textCell)
			fmt.Fprintf(&b, "  %s%s  ", name, strings.Repeat(" ", lw-width(name)))
			if l.State == StateRan {
				st := l.Status.String()
				fmt.Fprintf(&b, "ran  %s%s  %-6s  %s\n", p.status(l.Status, st), strings.Repeat(" ", sw-width(st)),
					fmtDuration(l.Duration), checkCounts(l.Results))
				continue
			}
			state := cleanLine(l.State)
			if l.Why != "" {
				state += ": " + cleanLine(l.Why)
			}
			b.WriteString(p.dim(state) + "\n")
		}
	}

	// Every check, worst first, with its evidence when it did not pass.
	results := allResults(r)
	if len(results) > 0 {
		b.WriteString("\n" + p.bold("Checks") + "\n")
		tw, nw := 0, 0
		for _, res := range results {
			tw, nw = max(tw, width(statusTag(res.Status))), max(nw, width(truncate(resultName(res), textCell)))
		}
		for _, res := range results {
			tag, name := statusTag(res.Status), truncate(resultName(res), textCell)
			fmt.Fprintf(&b, "  %s%s  %s%s  %s\n", p.status(res.Status, tag), strings.Repeat(" ", tw-width(tag)),
				name, strings.Repeat(" ", nw-width(name)), cleanLine(res.Message))
			if res.Status == check.StatusPass {
				continue
			}
			for _, ev := range evidence(res.Measured, res.Baseline, res.Threshold, res.Source) {
				fmt.Fprintf(&b, "  %s  %s  %s\n", strings.Repeat(" ", tw), p.dim(fmt.Sprintf("%-9s", ev[0])), ev[1])
			}
		}
	}

	// The evidence tables.
	for _, res := range results {
		for _, tb := range shownTables(res) {
			fmt.Fprintf(&b, "\n%s  (%s, %d %s)\n", p.bold(cleanLine(tb.Title)), resultName(res), len(tb.Rows), plural(len(tb.Rows), "row", "rows"))
			for _, l := range textTable(tb, maxRows, textCell, "  ") {
				b.WriteString(l + "\n")
			}
		}
	}

	// Which run this was.
	var foot []string
	if r.RunID != "" {
		foot = append(foot, "run "+cleanLine(r.RunID))
	}
	if r.Tool.Name != "" {
		foot = append(foot, strings.TrimSpace(cleanLine(r.Tool.Name+" "+r.Tool.Version)))
	}
	if !r.StartedAt.IsZero() && r.FinishedAt.After(r.StartedAt) {
		foot = append(foot, "took "+fmtDuration(Duration(r.FinishedAt.Sub(r.StartedAt))))
	}
	if len(foot) > 0 {
		b.WriteString("\n" + p.dim(strings.Join(foot, ", ")) + "\n")
	}
	if tm := r.Timings; tm != nil {
		b.WriteString(p.dim(fmt.Sprintf("time: resolve %s, facts %s, inventory %s, match %s, diff %s, encode %s",
			fmtDuration(tm.Resolve), fmtDuration(tm.Facts), fmtDuration(tm.Inventory), fmtDuration(tm.Match),
			fmtDuration(tm.Diff), fmtDuration(tm.Encode))) + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return nil
}

// subjectRow is one image's line: role, name, digest and where it was read from.
func subjectRow(role string, s *Subject) []string {
	row := []string{role, label(s), cleanLine(s.Digest)}
	if s.Transport != "" {
		row = append(row, "("+cleanLine(s.Transport)+")")
	}
	return row
}

// allResults is every result of the report, worst first and otherwise in layer order.
func allResults(r *Report) []check.Result {
	var out []check.Result
	for _, l := range r.Layers {
		out = append(out, l.Results...)
	}
	slices.SortStableFunc(out, func(a, b check.Result) int { return int(b.Status) - int(a.Status) })
	return out
}

// checkCounts is "3 checks: 1 fail, 2 pass".
func checkCounts(rs []check.Result) string {
	if len(rs) == 0 {
		return "no checks"
	}
	n := map[check.Status]int{}
	for _, r := range rs {
		n[r.Status]++
	}
	var parts []string
	for s := check.StatusFail; s >= check.StatusPass; s-- {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return fmt.Sprintf("%d %s: %s", len(rs), plural(len(rs), "check", "checks"), strings.Join(parts, ", "))
}

// statusTag is a status as the text view tags a check: upper case, so a non-pass stands out.
func statusTag(s check.Status) string { return strings.ToUpper(s.String()) }

// painter colours text with ANSI escapes when on, and leaves it alone otherwise.
type painter bool

const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiDim     = "\x1b[2m"
	ansiRed     = "\x1b[1;31m"
	ansiGreen   = "\x1b[1;32m"
	ansiYellow  = "\x1b[1;33m"
	ansiMagenta = "\x1b[1;35m"
)

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

func (p painter) bold(s string) string { return p.paint(ansiBold, s) }
func (p painter) dim(s string) string  { return p.paint(ansiDim, s) }

func (p painter) decision(d verdict.Decision, s string) string {
	switch d {
	case verdict.Go:
		return p.paint(ansiGreen, s)
	case verdict.Caution:
		return p.paint(ansiYellow, s)
	case verdict.NoGo:
		return p.paint(ansiRed, s)
	default:
		return p.paint(ansiMagenta, s)
	}
}

func (p painter) status(st check.Status, s string) string {
	switch st {
	case check.StatusPass:
		return p.paint(ansiGreen, s)
	case check.StatusWarn:
		return p.paint(ansiYellow, s)
	case check.StatusFail:
		return p.paint(ansiRed, s)
	case check.StatusError, check.StatusInconclusive:
		return p.paint(ansiMagenta, s)
	default:
		return p.dim(s)
	}
}
