package runtime

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// nameRE is the alphabet of RunID and Role: they become part of container names.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// Validate reports every problem of s in one error wrapping ErrInvalidSpec, or nil.
func (s Spec) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.Image == "" {
		add("no image")
	}
	if !nameRE.MatchString(s.RunID) {
		add("run id %q: want 1-64 letters, digits, '_', '.' or '-', not starting with a symbol", s.RunID)
	}
	if !nameRE.MatchString(s.Role) {
		add("role %q: want 1-64 letters, digits, '_', '.' or '-', not starting with a symbol", s.Role)
	}
	seen := map[int]bool{}
	for _, p := range s.Ports {
		if p < 1 || p > 65535 {
			add("port %d out of range 1-65535", p)
		} else if seen[p] {
			add("port %d listed twice", p)
		}
		seen[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		if !path.IsAbs(p) || path.Clean(p) == "/" {
			add("tmpfs path %q: want an absolute path below /", p)
		}
	}
	if s.Memory < 0 {
		add("memory %d < 0", s.Memory)
	}
	if s.CPUs < 0 {
		add("cpus %g < 0", s.CPUs)
	}
	if s.CPUShares < 0 {
		add("cpu shares %d < 0", s.CPUShares)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if strings.HasPrefix(k, LabelPrefix) {
			add("label %q: keys under %q are reserved", k, LabelPrefix)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(problems, "; "))
}
