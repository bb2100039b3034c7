package imagediff

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// configCheck compares the image configs. A change of platform is a failure (the image cannot
// run where the old one ran); a change of user, entrypoint, command, working directory or a
// removed port is a warning; env, labels and added ports are listed.
type configCheck struct{}

func (configCheck) Name() string { return "config" }

// secretKey matches env names whose values must not reach a report.
var secretKey = regexp.MustCompile(`(?i)(pass(word)?|secret|token|key|credential|auth|private)`)

// ConfigChange is one difference between the two configs.
type ConfigChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
	// Severity is "fail", "warn" or "info".
	Severity string `json:"severity"`
}

func (configCheck) Run(_ context.Context, env *check.Env) (check.Result, error) {
	if env.New.Config == nil {
		return check.Result{}, fmt.Errorf("new image %s has no config", env.New.Ref)
	}
	r := check.Result{Status: check.StatusPass, Source: "image config", Threshold: "same platform; user, entrypoint, cmd, workdir and ports unchanged"}
	if env.Old == nil || env.Old.Config == nil {
		n := env.New.Config
		r.Message = fmt.Sprintf("first deployment: %s/%s, user %q, entrypoint %q", n.OS, n.Architecture, n.Config.User, strings.Join(n.Config.Entrypoint, " "))
		return r, nil
	}
	stop := env.Timings.Start(timing.Diff)
	changes := DiffConfig(env.Old.Config, env.New.Config)
	shared := sharedLayers(env.Old.Config, env.New.Config)
	stop()
	r.Data = map[string]any{"changes": append([]ConfigChange{}, changes...), "sharedBaseLayers": shared}
	r.Measured = fmt.Sprintf("%d config changes", len(changes))
	r.Baseline = fmt.Sprintf("%d of %d old layers shared", shared, len(env.Old.Config.RootFS.DiffIDs))
	var warn, fail []string
	t := check.Table{Title: "Config changes", Columns: []string{"field", "old", "new", "severity"}}
	for _, c := range changes {
		t.Rows = append(t.Rows, []string{c.Field, c.Old, c.New, c.Severity})
		switch c.Severity {
		case "fail":
			fail = append(fail, c.Field)
		case "warn":
			warn = append(warn, c.Field)
		}
	}
	if len(t.Rows) > 0 {
		r.Tables = []check.Table{t}
	}
	switch {
	case len(fail) > 0:
		r.Status, r.Message = check.StatusFail, "changed: "+strings.Join(fail, ", ")
	case len(warn) > 0:
		r.Status, r.Message = check.StatusWarn, "changed: "+strings.Join(warn, ", ")
	case len(changes) > 0:
		r.Message = fmt.Sprintf("%d harmless config changes", len(changes))
	default:
		r.Message = "configs are the same"
	}
	return r, nil
}

// DiffConfig lists what differs between two image configs, in a stable order.
func DiffConfig(o, n *v1.ConfigFile) []ConfigChange {
	var out []ConfigChange
	add := func(field, a, b, sev string) {
		if a != b {
			out = append(out, ConfigChange{Field: field, Old: a, New: b, Severity: sev})
		}
	}
	add("platform", o.OS+"/"+o.Architecture+variant(o), n.OS+"/"+n.Architecture+variant(n), "fail")
	add("user", o.Config.User, n.Config.User, "warn")
	add("entrypoint", quote(o.Config.Entrypoint), quote(n.Config.Entrypoint), "warn")
	add("cmd", quote(o.Config.Cmd), quote(n.Config.Cmd), "warn")
	add("workdir", o.Config.WorkingDir, n.Config.WorkingDir, "warn")
	add("stopsignal", o.Config.StopSignal, n.Config.StopSignal, "warn")

	op, np := slices.Sorted(maps.Keys(o.Config.ExposedPorts)), slices.Sorted(maps.Keys(n.Config.ExposedPorts))
	for _, p := range op {
		if !slices.Contains(np, p) {
			out = append(out, ConfigChange{Field: "port " + p, Old: "exposed", New: "", Severity: "warn"})
		}
	}
	for _, p := range np {
		if !slices.Contains(op, p) {
			out = append(out, ConfigChange{Field: "port " + p, Old: "", New: "exposed", Severity: "info"})
		}
	}
	oe, ne := envMap(o.Config.Env), envMap(n.Config.Env)
	for _, k := range slices.Sorted(maps.Keys(union(oe, ne))) {
		a, b := oe[k], ne[k]
		if a == b {
			continue
		}
		if secretKey.MatchString(k) {
			a, b = redact(a), redact(b)
			if a == b {
				a, b = "(redacted)", "(redacted, changed)"
			}
		}
		add("env "+k, a, b, "info")
	}
	for _, k := range slices.Sorted(maps.Keys(union(o.Config.Labels, n.Config.Labels))) {
		add("label "+k, o.Config.Labels[k], n.Config.Labels[k], "info")
	}
	return out
}

func variant(c *v1.ConfigFile) string {
	if c.Variant == "" {
		return ""
	}
	return "/" + c.Variant
}

func quote(s []string) string {
	if s == nil {
		return ""
	}
	q := make([]string, len(s))
	for i, a := range s {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func union(a, b map[string]string) map[string]string {
	u := maps.Clone(a)
	if u == nil {
		u = map[string]string{}
	}
	maps.Copy(u, b)
	return u
}

func redact(v string) string {
	if v == "" {
		return ""
	}
	return "(redacted)"
}

// sharedLayers counts the leading layers the two images have in common: the shared base.
func sharedLayers(o, n *v1.ConfigFile) int {
	i := 0
	for i < len(o.RootFS.DiffIDs) && i < len(n.RootFS.DiffIDs) && o.RootFS.DiffIDs[i] == n.RootFS.DiffIDs[i] {
		i++
	}
	return i
}
