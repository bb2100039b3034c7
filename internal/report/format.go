package report

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plimsoll/plimsoll/internal/check"
)

// cleanLine makes untrusted text safe to print on one line of any of the formats: invalid
// UTF-8 becomes U+FFFD, tabs and line breaks become spaces, and control characters (C0, DEL,
// C1: terminal escapes, characters XML 1.0 forbids), bidirectional overrides (which can make
// text read differently from what it is) and the non-characters U+FFFE and U+FFFF are dropped.
func cleanLine(s string) string { return clean(s, false) }

// cleanBlock is cleanLine for text that may span lines: it keeps newlines and tabs.
func cleanBlock(s string) string { return clean(s, true) }

func clean(s string, keepBreaks bool) string {
	if isClean(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			if keepBreaks {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case r == '\r':
			if !keepBreaks {
				b.WriteByte(' ')
			}
		case dropped(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isClean reports whether clean would leave s as it is, whatever keepBreaks says.
func isClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || dropped(r) {
			return false
		}
		i += n
	}
	return true
}

func dropped(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true // bidirectional embeddings, overrides, isolates and marks
	case r == 0xFFFE, r == 0xFFFF:
		return true
	}
	return false
}

// truncate shortens s to at most n runes, ending it with "…" when it was cut.
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return s[:i] + "…"
}

// width is the number of runes in s: the columns it takes on a terminal for the text this
// tool prints (wide East Asian characters are counted as one).
func width(s string) int { return utf8.RuneCountInString(s) }

// label names a subject as the user named it: its reference, else its name, else its digest.
func label(s *Subject) string {
	switch {
	case s == nil:
		return ""
	case s.Ref != "":
		return cleanLine(s.Ref)
	case s.Name != "":
		return cleanLine(s.Name)
	default:
		return cleanLine(s.Digest)
	}
}

// headline is "OLD → NEW", or "NEW (first deployment)".
func headline(r *Report) string {
	if r.Old == nil {
		return label(&r.New) + " (first deployment)"
	}
	return label(r.Old) + " → " + label(&r.New)
}

// subjects is "OLD → NEW", or "NEW" alone for a first deployment.
func subjects(r *Report) string {
	if r.Old == nil {
		return label(&r.New)
	}
	return headline(r)
}

// planLine is "distro upgrade, risk high" or "first deployment, risk unknown"; "" when the
// report has neither a plan nor a first deployment to tell of.
func planLine(r *Report) string {
	var parts []string
	switch {
	case r.Old == nil:
		parts = append(parts, "first deployment")
	case r.Plan.Kind != "":
		parts = append(parts, cleanLine(r.Plan.Kind)+" upgrade")
	}
	if r.Plan.Risk != "" {
		parts = append(parts, "risk "+cleanLine(r.Plan.Risk))
	}
	return strings.Join(parts, ", ")
}

// decisionLabel is the decision as printed, "NO VERDICT" when there is none.
func decisionLabel(r *Report) string {
	if r.Verdict.Decision == "" {
		return "NO VERDICT"
	}
	return cleanLine(string(r.Verdict.Decision))
}

// layerLabel is "L1 diff", taking the name the report gives the layer.
func layerLabel(l Layer) string {
	if l.Name == "" {
		return l.Layer.String()
	}
	return fmt.Sprintf("L%d %s", int(l.Layer), cleanLine(l.Name))
}

// layerList is "L1 diff, L2 smoke".
func layerList(ls []check.Layer) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// fmtDuration writes a duration for people: "340ms", "2.41s", "1m30s", "72h".
func fmtDuration(d Duration) string {
	t := time.Duration(d)
	switch {
	case t <= 0:
		return "0s"
	case t < time.Second:
		return fmt.Sprintf("%dms", t.Round(time.Millisecond)/time.Millisecond)
	case t < time.Minute:
		return fmt.Sprintf("%.2fs", t.Seconds())
	}
	t = t.Round(time.Second)
	h, m, s := t/time.Hour, (t%time.Hour)/time.Minute, (t%time.Minute)/time.Second
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// evidence lists the non-empty evidence of a result or reason as label/value pairs.
func evidence(measured, baseline, threshold, source string) [][2]string {
	var ev [][2]string
	for _, e := range [][2]string{{"measured", measured}, {"baseline", baseline}, {"threshold", threshold}, {"source", source}} {
		if e[1] != "" {
			ev = append(ev, [2]string{e[0], cleanLine(e[1])})
		}
	}
	return ev
}

// resultName is "L1 packages".
func resultName(r check.Result) string {
	return fmt.Sprintf("L%d %s", int(r.Layer), cleanLine(r.Check))
}

// textTable renders a table as aligned plain-text columns, one string per line, each prefixed
// with indent. It shows at most maxRows rows (all when maxRows <= 0) and then "… N more rows";
// cells are cut at maxCell runes.
func textTable(t check.Table, maxRows, maxCell int, indent string) []string {
	ncol := len(t.Columns)
	for _, row := range t.Rows {
		ncol = max(ncol, len(row))
	}
	shown := t.Rows
	if maxRows > 0 && len(shown) > maxRows {
		shown = shown[:maxRows]
	}
	cells := make([][]string, 0, len(shown)+1)
	cells = append(cells, fitRow(t.Columns, ncol, maxCell))
	for _, row := range shown {
		r := fitRow(row, ncol, maxCell)
		for i, c := range r {
			if c == "" {
				r[i] = "-"
			}
		}
		cells = append(cells, r)
	}
	widths := make([]int, ncol)
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], width(c))
		}
	}
	lines := make([]string, 0, len(cells)+1)
	for _, row := range cells {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range row {
			b.WriteString(c)
			if i < ncol-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-width(c)+2))
			}
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	if n := len(t.Rows) - len(shown); n > 0 {
		lines = append(lines, fmt.Sprintf("%s… %d more %s (all rows are in summary.json)", indent, n, plural(n, "row", "rows")))
	}
	return lines
}

// fitRow returns row as exactly n cleaned cells of at most maxCell runes.
func fitRow(row []string, n, maxCell int) []string {
	out := make([]string, n)
	for i := range out {
		if i < len(row) {
			out[i] = truncate(cleanLine(row[i]), maxCell)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// shownTables are the evidence tables of res a view shows: those with rows, each with a title
// (an untitled one is the evidence of its check: "Evidence of L2 logs"). An empty table says
// nothing a reader needs (summary.json keeps it).
func shownTables(res check.Result) []check.Table {
	var out []check.Table
	for _, t := range res.Tables {
		if len(t.Rows) == 0 {
			continue
		}
		if strings.TrimSpace(cleanLine(t.Title)) == "" {
			t.Title = "Evidence of " + resultName(res)
		}
		out = append(out, t)
	}
	return out
}
