package harden

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
)

// shellNames are the shells looked for, in shellDirs.
var (
	shellNames = []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish"}
	shellDirs  = []string{"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}
)

// maxListed bounds the paths a message lists.
const maxListed = 5

// shells is what shellsOf found in one image.
type shells struct {
	// Shells are the shell paths that lead to a file, with the file ("/bin/sh" → "/bin/busybox").
	Shells []shellPath `json:"shells,omitempty"`
	// Busybox are the busybox binaries: executable files called busybox or busybox.*.
	Busybox []string `json:"busybox,omitempty"`
	// Applets are the links that lead to a busybox binary.
	Applets []string `json:"applets,omitempty"`
}

type shellPath struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

func (s shells) none() bool { return len(s.Shells) == 0 && len(s.Busybox) == 0 }

// String lists what was found: "/bin/sh → /bin/busybox; busybox /bin/busybox (+305 applet links: /bin/ash, …)".
func (s shells) String() string {
	if s.none() {
		return "no shell"
	}
	var parts []string
	for _, sh := range s.Shells {
		if sh.Path == sh.Target {
			parts = append(parts, sh.Path)
		} else {
			parts = append(parts, sh.Path+" → "+sh.Target)
		}
	}
	for _, b := range s.Busybox {
		parts = append(parts, "busybox "+b)
	}
	out := strings.Join(parts, "; ")
	if len(s.Applets) > 0 {
		out += fmt.Sprintf(" (+%s: %s)", count(len(s.Applets), "busybox applet link"), list(s.Applets))
	}
	return out
}

// count says "1 file" or "2 files".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// list joins the first maxListed items, with an ellipsis for the rest.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + ", …"
}

// shellsOf finds the shells in a scanned filesystem, links followed.
func shellsOf(sc *fsScan) shells {
	var s shells
	busybox := map[string]bool{}
	for f, mode := range sc.files {
		if b := path.Base(f); (b == "busybox" || strings.HasPrefix(b, "busybox.")) && mode&0o111 != 0 {
			busybox[f] = true
		}
	}
	for _, d := range shellDirs {
		for _, n := range shellNames {
			p := path.Join(d, n)
			if t := sc.regular(p); t != "" {
				s.Shells = append(s.Shells, shellPath{Path: p, Target: t})
			}
		}
	}
	// A path reached through a linked directory (/bin → usr/bin) is the same file twice: keep
	// the first path of each target and name.
	s.Shells = dedupShells(s.Shells)
	s.Busybox = slices.Sorted(maps.Keys(busybox))
	for l := range sc.links {
		if busybox[sc.regular(l)] {
			s.Applets = append(s.Applets, l)
		}
	}
	slices.Sort(s.Applets)
	return s
}

func dedupShells(in []shellPath) []shellPath {
	var out []shellPath
	seen := map[string]bool{}
	for _, s := range in {
		k := s.Target + "\x00" + path.Base(s.Path)
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

// shellCheck judges whether NEW carries a shell.
type shellCheck struct {
	h     config.Harden
	scans *scans
}

func (*shellCheck) Name() string { return "shell" }

func (c *shellCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	sc, err := c.scans.get(ctx, env.New)
	if err != nil {
		return check.Result{}, err
	}
	n := shellsOf(sc)
	r := check.Result{Measured: n.String(), Baseline: "no OLD image", Threshold: "no shell", Source: "NEW's filesystem, links followed"}
	if c.h.AllowShell {
		r.Threshold = "a shell is allowed (harden.allowShell), reported as CAUTION"
	}
	data := map[string]shells{"new": n}
	var o shells
	if env.Old != nil {
		osc, err := c.scans.get(ctx, env.Old)
		if err != nil {
			return check.Result{}, err
		}
		o = shellsOf(osc)
		data["old"], r.Baseline = o, o.String()
	}
	r.Data = data
	if n.none() {
		r.Status, r.Message = check.StatusPass, "NEW carries no shell"
		if env.Old != nil && !o.none() {
			r.Message += " (OLD did)"
		}
		return r, nil
	}
	r.Status = check.StatusFail
	fix := "use a shell-less base (distroless, scratch) or set harden.allowShell: true"
	if c.h.AllowShell {
		r.Status, fix = check.StatusWarn, "allowed by harden.allowShell"
	}
	r.Message = "NEW carries a shell: " + n.String()
	switch {
	case env.Old == nil:
	case o.none():
		r.Message += "; a regression: OLD has none"
	default:
		r.Message += "; pre-existing: OLD has one too"
	}
	r.Message += " (" + fix + ")"
	t := check.Table{Title: "Shells in NEW", Columns: []string{"path", "file"}}
	for _, s := range n.Shells {
		t.Rows = append(t.Rows, []string{s.Path, s.Target})
	}
	for _, b := range n.Busybox {
		t.Rows = append(t.Rows, []string{b, "busybox, " + count(len(n.Applets), "applet link")})
	}
	r.Tables = []check.Table{t}
	return r, nil
}
