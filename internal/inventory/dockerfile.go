package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// word is one whitespace-separated token of a Dockerfile instruction and
// where it starts (1-based line, 1-based byte column).
type word struct {
	text      string
	line, col int
}

// argDefault is a global ARG (declared before the first FROM) with a default.
type argDefault struct {
	value     string
	line, col int
}

// instructions splits a Dockerfile into instructions (joining continuations,
// dropping comments and heredoc bodies, honouring the escape directive) as
// lists of words.
func instructions(data []byte) [][]word {
	var out [][]word
	var cur []word
	escape := "\\"
	directives := true
	var heredocs []string // terminators still to see, in order
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSuffix(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if len(heredocs) > 0 {
			if trimmed == heredocs[0] {
				heredocs = heredocs[1:]
			}
			continue
		}
		if directives {
			if m := escapeRE.FindStringSubmatch(line); m != nil {
				escape = m[1]
				continue
			}
			directives = strings.HasPrefix(trimmed, "#") && strings.Contains(trimmed, "=")
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // comments (and parser directives) also inside continuations
		}
		cont := strings.HasSuffix(trimmed, escape)
		if cont {
			line = line[:strings.LastIndex(line, escape)]
		}
		cur = append(cur, words(line, i+1)...)
		if !cont && len(cur) > 0 {
			for _, w := range cur {
				if m := heredocRE.FindStringSubmatch(w.text); m != nil {
					heredocs = append(heredocs, m[1])
				}
			}
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var (
	escapeRE  = regexp.MustCompile(`^#\s*escape\s*=\s*([\\` + "`" + `])\s*$`)
	heredocRE = regexp.MustCompile(`^<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?$`)
)

func words(line string, n int) []word {
	var out []word
	start := -1
	for i := 0; i <= len(line); i++ {
		space := i == len(line) || line[i] == ' ' || line[i] == '\t'
		switch {
		case space && start >= 0:
			out = append(out, word{text: line[start:i], line: n, col: start + 1})
			start = -1
		case !space && start < 0:
			start = i
		}
	}
	return out
}

var varRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// parseDockerfile returns the base images named by FROM instructions.
// Stage names and scratch are not images; a FROM that is exactly one ARG
// variable is reported at the ARG's default (which Pin rewrites); a FROM that
// mixes variables and text is reported expanded and cannot be pinned in place.
func parseDockerfile(file string, data []byte) ([]Ref, []string) {
	var refs []Ref
	var problems []string
	args := map[string]argDefault{}
	stages := map[string]bool{}
	seenFrom := false
	for _, ins := range instructions(data) {
		switch strings.ToUpper(ins[0].text) {
		case "ARG":
			if seenFrom {
				continue // stage-local ARGs cannot reach FROM
			}
			for _, w := range ins[1:] {
				k, v, ok := strings.Cut(w.text, "=")
				if !ok {
					continue
				}
				col := w.col + len(k) + 1
				if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
					v, col = v[1:len(v)-1], col+1
				}
				args[k] = argDefault{value: v, line: w.line, col: col}
			}
		case "FROM":
			seenFrom = true
			ref, ok, problem := fromRef(file, ins, args, stages)
			if problem != "" {
				problems = append(problems, problem)
			}
			if ok {
				refs = append(refs, ref)
			}
		}
	}
	return refs, problems
}

func fromRef(file string, ins []word, args map[string]argDefault, stages map[string]bool) (Ref, bool, string) {
	rest := ins[1:]
	var platform string
	for len(rest) > 0 && strings.HasPrefix(rest[0].text, "--") {
		if p, ok := strings.CutPrefix(rest[0].text, "--platform="); ok {
			platform = p
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return Ref{}, false, fmt.Sprintf("line %d: FROM without an image", ins[0].line)
	}
	img := rest[0]
	if len(rest) >= 3 && strings.EqualFold(rest[1].text, "AS") {
		defer func() { stages[strings.ToLower(rest[2].text)] = true }()
	}
	var notes []string
	if platform != "" {
		notes = append(notes, "platform "+platform)
	}
	if stages[strings.ToLower(img.text)] || strings.EqualFold(img.text, "scratch") {
		return Ref{}, false, ""
	}
	if !strings.Contains(img.text, "$") {
		p, err := parseRef(img.text)
		if err != nil {
			return Ref{}, false, fmt.Sprintf("line %d: %v", img.line, err)
		}
		s := site{mode: modeReplace, line: img.line, col: img.col, old: img.text}
		return newRef(file, img.line, KindDockerfile, img.text, p, strings.Join(notes, "; "), s), true, ""
	}
	// A FROM that is exactly one ARG with a default: report (and pin) the default.
	if m := varRE.FindStringSubmatch(img.text); m != nil && m[0] == img.text && m[2] == "" {
		arg := m[1] + m[4]
		if d, ok := args[arg]; ok && d.value != "" && !strings.Contains(d.value, "$") {
			p, err := parseRef(d.value)
			if err != nil {
				return Ref{}, false, fmt.Sprintf("line %d: ARG %s default: %v", d.line, arg, err)
			}
			notes = append([]string{fmt.Sprintf("from ARG %s default, used by FROM on line %d", arg, img.line)}, notes...)
			s := site{mode: modeReplace, line: d.line, col: d.col, old: d.value}
			return newRef(file, d.line, KindDockerfile, d.value, p, strings.Join(notes, "; "), s), true, ""
		}
	}
	var missing []string
	expanded := varRE.ReplaceAllStringFunc(img.text, func(v string) string {
		m := varRE.FindStringSubmatch(v)
		arg := m[1] + m[4]
		d, ok := args[arg]
		switch {
		case m[2] == ":-" && (!ok || d.value == ""), m[2] == "-" && !ok:
			return m[3]
		case m[2] == ":+" || m[2] == "+":
			if ok && (m[2] == "+" || d.value != "") {
				return m[3]
			}
			return ""
		case ok:
			return d.value
		}
		missing = append(missing, arg)
		return ""
	})
	if len(missing) > 0 {
		return Ref{}, false, fmt.Sprintf("line %d: FROM %s: no default for ARG %s", img.line, img.text, strings.Join(missing, ", "))
	}
	p, err := parseRef(expanded)
	if err != nil {
		return Ref{}, false, fmt.Sprintf("line %d: FROM %s: %v", img.line, img.text, err)
	}
	notes = append([]string{"expanded from ARG defaults to " + expanded + "; not pinnable in place"}, notes...)
	return newRef(file, img.line, KindDockerfile, img.text, p, strings.Join(notes, "; "), site{}), true, ""
}
