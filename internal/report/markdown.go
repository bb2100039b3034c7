package report

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// Markdown writes summary.md, ready to post as a pull-request comment: the verdict as a bold
// badge line, a table of the layers, the reasons behind the verdict with their evidence, and
// each evidence table in a collapsed <details> block showing at most MaxRows rows (25 when
// MaxRows <= 0). Text from the report (image, package and check names, messages, logs) is
// escaped so it cannot break a table or inject HTML. The whole comment stays under GitHub's
// limit of 65536 characters: sections that do not fit are left out, with a note saying so.
type Markdown struct {
	MaxRows int
}

const (
	// markdownLimit is GitHub's limit on the length of a comment. It counts characters; the
	// encoder counts bytes, which are never fewer.
	markdownLimit = 65536
	// defaultMarkdownRows is how many rows of a table the comment shows.
	defaultMarkdownRows = 25
	// markdownCell and markdownText are the longest a table cell and a message get, in runes.
	markdownCell = 120
	markdownText = 1500
)

// Format is the name --output knows it by.
func (Markdown) Format() string { return "markdown" }

// Filename is the file WriteDir writes it to.
func (Markdown) Filename() string { return "summary.md" }

// truncatedNote ends a comment that had to leave sections out.
const truncatedNote = "\n_%d %s left out to stay within GitHub's 65536-character comment limit: the full report is in summary.json._\n"

// Encode writes r to w as Markdown.
func (m Markdown) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	maxRows := m.MaxRows
	if maxRows <= 0 {
		maxRows = defaultMarkdownRows
	}
	blocks := markdownBlocks(r, maxRows)
	// Reserve room for the note, then keep blocks in order until one does not fit.
	budget := markdownLimit - len(fmt.Sprintf(truncatedNote, len(blocks), "sections"))
	var b strings.Builder
	kept := 0
	for _, bl := range blocks {
		if b.Len()+len(bl) > budget {
			break
		}
		b.WriteString(bl)
		kept++
	}
	if n := len(blocks) - kept; n > 0 {
		fmt.Fprintf(&b, truncatedNote, n, plural(n, "section", "sections"))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write Markdown report: %w", err)
	}
	return nil
}

// markdownBlocks is the comment as self-contained blocks (each closes what it opens), in
// the order they are shown and dropped from the end when the comment gets too long.
func markdownBlocks(r *Report, maxRows int) []string {
	var blocks []string
	var b strings.Builder

	// Heading and verdict badge.
	fmt.Fprintf(&b, "### plimsoll: %s\n\n", md(truncate(subjects(r), markdownText)))
	fmt.Fprintf(&b, "**%s**", md(truncate(decisionLabel(r), markdownCell)))
	if r.Verdict.Summary != "" {
		fmt.Fprintf(&b, " — %s", md(truncate(cleanLine(r.Verdict.Summary), markdownText)))
	}
	b.WriteString("\n\n")
	// Untrusted text never starts a line, where it could make a heading or a list.
	if pl := planLine(r); pl != "" {
		line := "Plan: " + md(truncate(pl, markdownCell))
		if r.Plan.Promotion != "" {
			line += ". Promotion: " + md(truncate(cleanLine(r.Plan.Promotion), markdownText))
		}
		b.WriteString(line + ".\n\n")
	}
	blocks = append(blocks, b.String())

	// The layers.
	if len(r.Layers) > 0 {
		b.Reset()
		b.WriteString("| Layer | State | Status | Duration |\n|---|---|---|---|\n")
		for _, l := range r.Layers {
			state, status, dur := md(truncate(cleanLine(l.State), markdownCell)), "–", "–"
			if l.State == StateRan {
				status, dur = l.Status.String(), fmtDuration(l.Duration)
				if l.Status != check.StatusPass {
					status = "**" + status + "**"
				}
			} else if l.Why != "" {
				state += ": " + md(truncate(cleanLine(l.Why), markdownCell))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md(truncate(layerLabel(l), markdownCell)), state, status, dur)
		}
		b.WriteString("\n")
		blocks = append(blocks, b.String())
	}

	// Why: the verdict's reasons, worst first, each with its evidence.
	if len(r.Verdict.Reasons) > 0 {
		blocks = append(blocks, "#### Why\n\n")
		for i, re := range r.Verdict.Reasons {
			b.Reset()
			b.WriteString("- **" + re.Status.String() + "**")
			if re.Layer != 0 {
				name := fmt.Sprintf("L%d", int(re.Layer))
				if re.Check != "" {
					name += " " + cleanLine(re.Check)
				} else {
					name = re.Layer.String()
				}
				b.WriteString(" " + md(truncate(name, markdownCell)) + ":")
			}
			b.WriteString(" " + md(truncate(cleanLine(re.Message), markdownText)) + "\n")
			for _, ev := range evidence(re.Measured, re.Baseline, re.Threshold, re.Source) {
				fmt.Fprintf(&b, "  - %s: %s\n", ev[0], md(truncate(ev[1], markdownText)))
			}
			if i == len(r.Verdict.Reasons)-1 {
				b.WriteString("\n")
			}
			blocks = append(blocks, b.String())
		}
	}

	// The evidence tables, collapsed.
	for _, l := range r.Layers {
		for _, res := range l.Results {
			for _, t := range shownTables(res) {
				blocks = append(blocks, markdownTable(res, t, maxRows))
			}
		}
	}

	// The plan's reasons, collapsed.
	if len(r.Plan.Reasons) > 0 || len(r.Plan.Layers) > 0 {
		b.Reset()
		fmt.Fprintf(&b, "<details><summary>Plan: %s</summary>\n\n", mdHTML(truncate(planLine(r), markdownCell)))
		if len(r.Plan.Layers) > 0 {
			fmt.Fprintf(&b, "- layers: %s\n", md(layerList(r.Plan.Layers)))
		}
		if r.Plan.Budget > 0 {
			fmt.Fprintf(&b, "- budget: %s\n", fmtDuration(r.Plan.Budget))
		}
		for _, why := range r.Plan.Reasons {
			fmt.Fprintf(&b, "- %s\n", md(truncate(cleanLine(why), markdownText)))
		}
		b.WriteString("\n</details>\n\n")
		blocks = append(blocks, b.String())
	}

	// Which run this was.
	var foot []string
	if r.Tool.Name != "" {
		foot = append(foot, md(truncate(strings.TrimSpace(r.Tool.Name+" "+r.Tool.Version), markdownCell)))
	}
	if r.RunID != "" {
		foot = append(foot, "run "+md(truncate(r.RunID, markdownCell)))
	}
	if r.Old != nil && r.Old.Digest != "" {
		foot = append(foot, "old "+md(truncate(r.Old.Digest, markdownCell)))
	}
	if r.New.Digest != "" {
		foot = append(foot, "new "+md(truncate(r.New.Digest, markdownCell)))
	}
	if len(foot) > 0 {
		blocks = append(blocks, "<sub>"+strings.Join(foot, " · ")+"</sub>\n")
	}
	return blocks
}

// markdownTable is one evidence table in a collapsed <details> block.
func markdownTable(res check.Result, t check.Table, maxRows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>%s (%s, %d %s)</summary>\n\n", mdHTML(truncate(cleanLine(t.Title), markdownCell)),
		mdHTML(truncate(resultName(res), markdownCell)), len(t.Rows), plural(len(t.Rows), "row", "rows"))
	ncol := len(t.Columns)
	for _, row := range t.Rows {
		ncol = max(ncol, len(row))
	}
	if ncol > 0 {
		cells := func(row []string) string {
			out := make([]string, ncol)
			for i := range out {
				if i < len(row) {
					out[i] = md(truncate(cleanLine(row[i]), markdownCell))
				}
			}
			return "| " + strings.Join(out, " | ") + " |\n"
		}
		b.WriteString(cells(t.Columns))
		b.WriteString(strings.Repeat("|---", ncol) + "|\n")
		shown := t.Rows
		if len(shown) > maxRows {
			shown = shown[:maxRows]
		}
		for _, row := range shown {
			b.WriteString(cells(row))
		}
		if n := len(t.Rows) - len(shown); n > 0 {
			fmt.Fprintf(&b, "\n_… %d more %s in summary.json._\n", n, plural(n, "row", "rows"))
		}
	}
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// mdEscaper escapes what Markdown or HTML would read as syntax: emphasis, code, links, table
// cell separators and tags. Text passes through it after cleanLine, so it is one line.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `~`, `\~`, `[`, `\[`, `]`, `\]`, `|`, `\|`,
	`<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`,
)

// md makes untrusted text safe in a Markdown line, a table cell or a list item.
func md(s string) string { return noMentions(mdEscaper.Replace(cleanLine(s))) }

// mdHTML makes untrusted text safe inside the encoder's own HTML (a <summary>).
func mdHTML(s string) string { return noMentions(html.EscapeString(s)) }

// noMentions breaks every "@name" GitHub would turn into a mention (an "@" that starts a word
// and is followed by a letter or digit) with a zero-width space after the "@", so that a
// summary.md posted as a PR comment pings nobody an image's labels or logs name. It still reads
// "@name"; the "@" inside a word ("app@sha256:…", "me@example.com") is left alone.
func noMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '@' && i+1 < len(s) && isAlnum(s[i+1]) && (i == 0 || !isAlnum(s[i-1]) && s[i-1] != '_') {
			b.WriteString("&#8203;")
		}
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
