package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Delivery tunes plimsoll rollout and rollback.
type Delivery struct {
	// Fallback: what rollout and rollback do when an image cannot be pulled or its signature
	// does not verify: "offer" (default: stop and name a replacement), "apply" (switch to it), "off".
	Fallback string `yaml:"fallback"`
	// Mirrors maps a registry host as written in image references ("registry.example.com",
	// "docker.io", "127.0.0.1:5000") to the registries holding copies, tried in order; a mirror
	// may carry a path prefix ("mirror.internal:5000/cache").
	Mirrors map[string][]string `yaml:"mirrors"`
	// Rollout is the policy of plimsoll rollout: step plan, metric gates, webhooks.
	Rollout Rollout `yaml:"rollout"`
}

// FallbackModes are the values of delivery.fallback; the first is the default.
var FallbackModes = []string{"offer", "apply", "off"}

// FallbackMode is the fallback mode, "offer" when the policy leaves it out.
func (d Delivery) FallbackMode() string {
	if d.Fallback == "" {
		return FallbackModes[0]
	}
	return d.Fallback
}

func (d Delivery) problems(path string) []*Problem {
	ps := d.Rollout.problems(path + ".rollout")
	if d.Fallback != "" && !slices.Contains(FallbackModes, d.Fallback) {
		ps = append(ps, &Problem{Path: path + ".fallback", Msg: fmt.Sprintf("%q: use %s", d.Fallback, strings.Join(FallbackModes, ", "))})
	}
	hosts := make([]string, 0, len(d.Mirrors))
	for h := range d.Mirrors {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		at := path + ".mirrors." + h
		if why := registryProblem(h); why != "" {
			ps = append(ps, &Problem{Path: at, Msg: fmt.Sprintf("%q: %s", h, why)})
		}
		list := d.Mirrors[h]
		if len(list) == 0 {
			ps = append(ps, &Problem{Path: at, Msg: "empty: list the registries that hold copies, or leave the host out"})
			continue
		}
		named := names(list, at, "mirror")
		ps = append(ps, named...)
		for i, m := range list {
			mat := fmt.Sprintf("%s[%d]", at, i)
			if slices.ContainsFunc(named, func(p *Problem) bool { return p.Path == mat }) {
				continue
			}
			if why := mirrorProblem(m); why != "" {
				ps = append(ps, &Problem{Path: mat, Msg: fmt.Sprintf("%q: %s", m, why)})
			}
		}
	}
	return ps
}

// registryProblem says what is wrong with h as a registry host written in image references
// ("registry.example.com", "127.0.0.1:5000"), "" when nothing is.
func registryProblem(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return "a registry host has no scheme (write registry.example.com, not https://registry.example.com)"
	case strings.ContainsFunc(h, isSpace) || h == "":
		return "a registry host has no spaces"
	case strings.Contains(h, "/"):
		return "a registry host has no path"
	case h != "localhost" && !strings.ContainsAny(h, ".:"):
		return "not a registry host: image references name a registry with a dot or a port (registry.example.com, host:5000) or localhost"
	}
	if _, err := name.NewRegistry(h, name.StrictValidation); err != nil {
		return err.Error()
	}
	if _, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %q: want 1 to 65535", port)
		}
	}
	return ""
}

// mirrorProblem says what is wrong with a mirror, a registry host with an optional path prefix
// ("mirror.internal:5000/cache"), "" when nothing is.
func mirrorProblem(m string) string {
	if strings.Contains(m, "://") {
		return "a mirror has no scheme (write mirror.internal:5000/cache, not http://mirror.internal:5000/cache)"
	}
	host, prefix, hasPrefix := strings.Cut(m, "/")
	if why := registryProblem(host); why != "" {
		return why
	}
	if hasPrefix && slices.Contains(strings.Split(prefix, "/"), "") {
		return "the path prefix has an empty part (write host/cache, not host/ or host//cache)"
	}
	if hasPrefix {
		// The prefix must be a repository path: check it with a repository name under it.
		if _, err := name.NewRepository(host+"/"+prefix+"/x", name.StrictValidation); err != nil {
			return "the path prefix is not a repository path: " + err.Error()
		}
	}
	return ""
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
