package patches

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// Formats are the formats Write renders.
var Formats = []string{"text", "json", "markdown"}

// Write renders rep in format (one of Formats).
func Write(w io.Writer, rep *Report, format string) error {
	switch format {
	case "text":
		return writeText(w, rep)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "markdown":
		return writeMarkdown(w, rep)
	}
	return fmt.Errorf("patches: unknown format %q: use %s", format, strings.Join(Formats, ", "))
}

func counts(c scan.SeverityCounts) string {
	var parts []string
	for _, x := range []struct {
		n    int
		name string
	}{{c.Critical, "critical"}, {c.High, "high"}, {c.Medium, "medium"}, {c.Low, "low"}, {c.Negligible, "negligible"}, {c.Unknown, "unknown"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.name))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func short(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12]
	}
	return digest
}

func created(c Candidate) string {
	if c.Created.IsZero() {
		return day(c.AvailableSince) + " (first seen)"
	}
	return day(c.AvailableSince)
}

func writeText(w io.Writer, rep *Report) error {
	var b strings.Builder
	if len(rep.Images) == 0 {
		b.WriteString("No tagged base images found.\n")
	}
	for _, im := range rep.Images {
		fmt.Fprintf(&b, "%s:%s@%s", im.Repository, im.Tag, short(im.Digest))
		for _, s := range im.Sites {
			fmt.Fprintf(&b, "  %s:%d", s.File, s.Line)
		}
		b.WriteString("\n")
		switch {
		case im.Error != "":
			fmt.Fprintf(&b, "  error: %s\n", im.Error)
		case len(im.Candidates) == 0:
			b.WriteString("  up to date: no newer patch in its line\n")
		}
		tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		for _, c := range im.Candidates {
			mark := " "
			if c.Eligible {
				mark = "*"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\tavailable since %s\tfixes %s\tbrings %s\n", mark, c.Tag, c.Kind, short(c.Digest),
				created(c), counts(c.FixedCounts), counts(c.IntroducedCounts))
		}
		_ = tw.Flush()
		if best := im.Best(); best != nil {
			fmt.Fprintf(&b, "  eligible: %s (%s)\n", best.Ref, best.Why)
		} else if n := len(im.Candidates); n > 0 {
			fmt.Fprintf(&b, "  none eligible: %s\n", im.Candidates[n-1].Why)
		}
		if o := im.Outcome; o != nil {
			fmt.Fprintf(&b, "  %s\n", o.Reason)
			for _, s := range o.Services {
				fmt.Fprintf(&b, "    service %s (%s): %s: %s\n", s.Service, s.Dockerfile, s.Decision, s.Reason)
			}
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "skipped %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Base image patches\n\n%s UTC\n", day(rep.Time))
	for _, im := range rep.Images {
		fmt.Fprintf(&b, "\n## %s:%s\n\n`%s`", im.Repository, im.Tag, im.Digest)
		var where []string
		for _, s := range im.Sites {
			where = append(where, fmt.Sprintf("`%s:%d`", s.File, s.Line))
		}
		fmt.Fprintf(&b, " in %s\n\n", strings.Join(where, ", "))
		switch {
		case im.Error != "":
			fmt.Fprintf(&b, "**Error:** %s\n", im.Error)
			continue
		case len(im.Candidates) == 0:
			b.WriteString("Up to date: no newer patch in its line.\n")
			continue
		}
		b.WriteString("| Patch | Kind | Digest | Available since | Fixes | Brings | Eligible |\n|---|---|---|---|---|---|---|\n")
		for _, c := range im.Candidates {
			el := "no: " + c.Why
			if c.Eligible {
				el = "**yes**: " + c.Why
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s | %s | %s |\n", c.Tag, c.Kind, short(c.Digest), created(c),
				cell(counts(c.FixedCounts), c.Fixed), cell(counts(c.IntroducedCounts), c.Introduced), el)
		}
		if o := im.Outcome; o != nil {
			fmt.Fprintf(&b, "\n**Outcome:** %s\n", o.Reason)
			if len(o.Services) > 0 {
				b.WriteString("\n| Service | Dockerfile | Verdict | Run | Branch | Reason |\n|---|---|---|---|---|---|\n")
				for _, s := range o.Services {
					fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", s.Service, s.Dockerfile, s.Decision, orDash(s.RunID),
						orDash(s.Branch), strings.ReplaceAll(s.Reason, "|", "\\|"))
				}
			}
		}
	}
	if len(rep.Skipped) > 0 {
		b.WriteString("\n## Skipped\n\n")
		for _, s := range rep.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(summary string, ids []string) string {
	if len(ids) == 0 {
		return summary
	}
	return summary + " (" + strings.Join(ids, ", ") + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
