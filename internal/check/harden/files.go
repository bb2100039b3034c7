package harden

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
)

// filesCheck judges the files that widen what a process in the container can do: setuid and
// setgid files, world-writable files, and file capabilities.
type filesCheck struct {
	scans *scans
}

func (*filesCheck) Name() string { return "files" }

// fileFindings is what the files check found in one image.
type fileFindings struct {
	Setid    []entry `json:"setid,omitempty"`
	Writable []entry `json:"worldWritable,omitempty"`
	Caps     []entry `json:"capabilities,omitempty"`
}

func (f fileFindings) String() string {
	return fmt.Sprintf("%d setuid/setgid, %d world-writable, %d with capabilities", len(f.Setid), len(f.Writable), len(f.Caps))
}

func findingsOf(sc *fsScan) fileFindings {
	return fileFindings{Setid: sc.setid, Writable: sc.writable, Caps: sc.caps}
}

func (c *filesCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	sc, err := c.scans.get(ctx, env.New)
	if err != nil {
		return check.Result{}, err
	}
	n := findingsOf(sc)
	r := check.Result{
		Measured: n.String(), Baseline: "no OLD image", Source: "NEW's filesystem (tar headers and PAX xattrs)",
		Threshold: "no setuid/setgid file NEW adds; no world-writable file outside /tmp and /var/tmp; no file capabilities",
	}
	data := map[string]fileFindings{"new": n}
	var inOld map[string]bool
	if env.Old != nil {
		osc, err := c.scans.get(ctx, env.Old)
		if err != nil {
			return check.Result{}, err
		}
		o := findingsOf(osc)
		data["old"], r.Baseline, inOld = o, o.String(), pathSet(o.Setid)
	}
	r.Data = data

	var added, kept []string
	for _, e := range n.Setid {
		if inOld[e.Path] {
			kept = append(kept, e.Path)
		} else {
			added = append(added, e.Path)
		}
	}
	var problems []string
	r.Status = check.StatusPass
	if len(added) > 0 {
		r.Status = check.StatusFail
		what := "NEW adds"
		if env.Old == nil {
			what = "NEW has"
		}
		problems = append(problems, fmt.Sprintf("%s %s: %s", what, count(len(added), "setuid/setgid file"), list(added)))
	}
	if len(kept) > 0 {
		r.Status = check.Worst(r.Status, check.StatusWarn)
		problems = append(problems, fmt.Sprintf("pre-existing: %s OLD has too: %s", count(len(kept), "setuid/setgid file"), list(kept)))
	}
	if len(n.Writable) > 0 {
		r.Status = check.Worst(r.Status, check.StatusWarn)
		problems = append(problems, fmt.Sprintf("%s outside /tmp and /var/tmp: %s", count(len(n.Writable), "world-writable path"), list(paths(n.Writable))))
	}
	if len(n.Caps) > 0 {
		r.Status = check.Worst(r.Status, check.StatusWarn)
		var cs []string
		for _, e := range n.Caps {
			cs = append(cs, e.Path+" "+e.Caps)
		}
		problems = append(problems, fmt.Sprintf("%s with capabilities: %s", count(len(n.Caps), "file"), list(cs)))
	}
	if len(problems) == 0 {
		r.Message = "no setuid/setgid, world-writable or capability-carrying files in NEW"
		return r, nil
	}
	r.Message = strings.Join(problems, "; ")
	r.Tables = findingTables(n, inOld, env.Old != nil)
	return r, nil
}

func pathSet(es []entry) map[string]bool {
	m := make(map[string]bool, len(es))
	for _, e := range es {
		m[e.Path] = true
	}
	return m
}

func paths(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Path
	}
	return out
}

// findingTables are the evidence: one table per kind of finding.
func findingTables(n fileFindings, inOld map[string]bool, hasOld bool) []check.Table {
	owner := func(e entry) string { return strconv.Itoa(e.UID) + ":" + strconv.Itoa(e.GID) }
	var ts []check.Table
	if len(n.Setid) > 0 {
		t := check.Table{Title: "setuid/setgid files in NEW", Columns: []string{"path", "mode", "owner", "in OLD"}}
		for _, e := range n.Setid {
			old := "no"
			switch {
			case !hasOld:
				old = "no OLD image"
			case inOld[e.Path]:
				old = "yes"
			}
			t.Rows = append(t.Rows, []string{e.Path, e.Mode, owner(e), old})
		}
		ts = append(ts, t)
	}
	if len(n.Writable) > 0 {
		t := check.Table{Title: "world-writable in NEW", Columns: []string{"path", "mode", "owner"}}
		for _, e := range n.Writable {
			t.Rows = append(t.Rows, []string{e.Path, e.Mode, owner(e)})
		}
		ts = append(ts, t)
	}
	if len(n.Caps) > 0 {
		t := check.Table{Title: "file capabilities in NEW", Columns: []string{"path", "capabilities", "owner"}}
		for _, e := range n.Caps {
			t.Rows = append(t.Rows, []string{e.Path, e.Caps, owner(e)})
		}
		ts = append(ts, t)
	}
	return ts
}
