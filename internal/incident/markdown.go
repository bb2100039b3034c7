package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
)

// Markdown renders inc as a post-incident report: summary, impact, timeline, root cause /
// trigger, actions taken and follow-ups. Times are UTC. What only a person can know (who was
// affected, the root cause) is left as a marked blank for the responder to fill in.
func Markdown(inc store.Incident) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	target := inc.Workload
	if inc.Namespace != "" {
		target = inc.Namespace + "/" + inc.Workload
	}
	dur := inc.EndedAt.Sub(inc.StartedAt)
	if inc.EndedAt.IsZero() || dur < 0 {
		dur = 0
	}

	w("# Incident %s: %s of %s\n\n", oneLine(inc.ID), kindTitle(inc.Kind), code(target))

	w("## Summary\n\n")
	switch inc.Kind {
	case store.IncidentAbortedRollout:
		w("The rollout of %s to %s was aborted and the workload kept or returned to %s.\n",
			code(target), code(inc.FromImage), code(inc.ToImage))
	default:
		w("%s was rolled back from %s to %s.\n", code(target), code(inc.FromImage), code(inc.ToImage))
	}
	w("\n- Started: %s\n- Ended: %s\n- Duration: %s\n", stamp(inc.StartedAt), stamp(inc.EndedAt), dur.Round(time.Millisecond))
	w("- Reason: %s\n\n", orBlank(inc.Reason, "none given"))

	w("## Impact\n\n")
	w("- Workload: %s\n", code(target))
	w("- Image in production during the incident: %s\n", code(inc.FromImage))
	w("- Window: %s to %s (%s)\n", stamp(inc.StartedAt), stamp(inc.EndedAt), dur.Round(time.Millisecond))
	w("- Users affected: _to be completed by the responder_\n\n")

	w("## Timeline (UTC)\n\n")
	if len(inc.Timeline) == 0 {
		w("_No events were recorded._\n")
	}
	for _, e := range inc.Timeline {
		w("- %s (+%s) %s\n", e.Time.UTC().Format("15:04:05.000"), e.Time.Sub(inc.StartedAt).Round(time.Millisecond), oneLine(e.What))
	}
	w("\n")

	w("## Root cause / trigger\n\n")
	w("- Trigger: %s\n", orBlank(inc.Reason, "none given"))
	w("- Root cause: _to be determined_\n\n")

	w("## Actions taken\n\n")
	switch inc.Kind {
	case store.IncidentAbortedRollout:
		w("- Aborted the rollout of %s to %s; traffic and replicas returned to %s.\n", code(target), code(inc.FromImage), code(inc.ToImage))
	default:
		w("- Rolled %s back from %s to %s.\n", code(target), code(inc.FromImage), code(inc.ToImage))
	}
	w("- Each step above is on the timeline, with its time.\n\n")

	w("## Follow-ups\n\n")
	w("- [ ] Find the root cause of the regression in %s.\n", code(inc.FromImage))
	w("- [ ] Add a check to the release policy that would have caught it before production.\n")
	w("- [ ] Decide when %s (or a fixed image) may be released again.\n", code(inc.FromImage))
	return b.String()
}

func kindTitle(k store.IncidentKind) string {
	switch k {
	case store.IncidentAbortedRollout:
		return "aborted rollout"
	case store.IncidentRollback:
		return "rollback"
	default:
		return orBlank(oneLine(string(k)), "incident")
	}
}

// stamp formats t in UTC to the millisecond, or "-" when it is unknown.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// code shows s as inline code: on one line, in a backtick fence longer than any run of
// backticks inside it.
func code(s string) string {
	s = oneLine(s)
	if s == "" {
		return "_unknown_"
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// oneLine keeps text from breaking the document's structure: newlines become spaces.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}

func orBlank(s, blank string) string {
	if s = oneLine(s); s == "" {
		return "_" + blank + "_"
	}
	return s
}
