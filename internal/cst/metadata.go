package cst

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// envMap reads "KEY=value" entries; an entry without '=' is a key with an empty value.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

// checkMetadata compares the image config with the metadata test, as CST's MetadataTest.Run
// does, and returns every mismatch.
func checkMetadata(m *MetadataTest, c v1.Config) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	env := envMap(c.Env)
	pairs := func(what string, want []KeyValue, have map[string]string) {
		for _, p := range want {
			v, ok := have[p.Key]
			if !ok {
				add("%s %s not found in the image config", what, p.Key)
				continue
			}
			if !p.IsRegex {
				if v != p.Value {
					add("%s %s is %q, want %q", what, p.Key, v, p.Value)
				}
				continue
			}
			if re, err := regexp.Compile(p.Value); err != nil {
				add("%s %s: invalid regular expression %q: %v", what, p.Key, p.Value, err)
			} else if !re.MatchString(v) {
				add("%s %s is %q, which does not match %q", what, p.Key, v, p.Value)
			}
		}
	}
	pairs("environment variable", m.EnvVars, env)
	for _, p := range m.UnboundEnvVars {
		if _, ok := env[p.Key]; ok {
			add("environment variable %s is set, want it unset", p.Key)
		}
	}
	pairs("label", m.Labels, c.Labels)
	if m.Entrypoint != nil && !slices.Equal(*m.Entrypoint, c.Entrypoint) {
		add("entrypoint is %q, want %q", c.Entrypoint, *m.Entrypoint)
	}
	if m.Cmd != nil && !slices.Equal(*m.Cmd, c.Cmd) {
		add("cmd is %q, want %q", c.Cmd, *m.Cmd)
	}
	if m.Workdir != "" && m.Workdir != c.WorkingDir {
		add("workdir is %q, want %q", c.WorkingDir, m.Workdir)
	}
	if m.User != "" && m.User != c.User {
		add("user is %q, want %q", c.User, m.User)
	}
	for _, p := range m.ExposedPorts {
		if !exposed(c.ExposedPorts, p) {
			add("port %s is not exposed", p)
		}
	}
	for _, p := range m.UnexposedPorts {
		if exposed(c.ExposedPorts, p) {
			add("port %s is exposed, want it not exposed", p)
		}
	}
	for _, v := range m.Volumes {
		if _, ok := c.Volumes[v]; !ok {
			add("volume %s is not declared", v)
		}
	}
	for _, v := range m.UnmountedVolumes {
		if _, ok := c.Volumes[v]; ok {
			add("volume %s is declared, want it not declared", v)
		}
	}
	return problems
}

// exposed reports whether port ("80", as CST compares it, or "80/tcp") is among the config's
// exposed ports ("80/tcp").
func exposed(ports map[string]struct{}, port string) bool {
	for p := range ports {
		if p == port || strings.SplitN(p, "/", 2)[0] == port {
			return true
		}
	}
	return false
}
