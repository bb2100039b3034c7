package launch

import (
	"regexp"
	"strings"
)

// LogHit is one log line that says the app is broken.
type LogHit struct {
	// Pattern is the built-in pattern's name ("panic") or the extra pattern as written.
	Pattern string `json:"pattern"`
	// Line is the line's number, from 1.
	Line int `json:"line"`
	// Text is the line, trimmed and cut to 240 bytes.
	Text string `json:"text"`
}

// builtin is a pattern every log is scanned for.
type builtin struct {
	name string
	re   *regexp.Regexp
	// word marks a common word (panic, fatal) that also appears as a setting or an
	// identifier: a match joined to '-', '.', '/' or followed by '=' or '":' does not count
	// ("fatal=false", "non-fatal", "--panic-on-oom", {"fatal":false}).
	word bool
}

// builtins are scanned for in this order; a line counts once, for the first that matches.
var builtins = []builtin{
	{name: "segfault", re: regexp.MustCompile(`(?i)\bsegfault`)},
	{name: "Segmentation fault", re: regexp.MustCompile(`(?i)\bsegmentation (fault|violation)`)},
	{name: "core dumped", re: regexp.MustCompile(`(?i)\bcore dumped\b`)},
	// glibc's dynamic linker, musl's, and the rest.
	{name: "error while loading shared libraries", re: regexp.MustCompile(`(?i)error while loading shared librar`)},
	{name: "Error loading shared library", re: regexp.MustCompile(`Error loading shared library`)},
	{name: "library not found", re: regexp.MustCompile(`(?i)\blibrary not found\b`)},
	{name: "symbol not found", re: regexp.MustCompile(`Error relocating .*: symbol not found|symbol lookup error`)},
	{name: "panic", re: regexp.MustCompile(`(?i)\bpanic\b`), word: true},
	{name: "fatal", re: regexp.MustCompile(`(?i)\bfatal\b`), word: true},
}

// BuiltinPatterns names the patterns ScanLogs always looks for, in its order.
func BuiltinPatterns() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.name
	}
	return names
}

// ScanLogs returns the lines of logs that match a built-in pattern (segfault, Segmentation
// fault, core dumped, glibc's "error while loading shared libraries", musl's "Error loading
// shared library", library not found, missing symbols, panic, fatal — the last two as words,
// case-insensitive, not as settings such as "fatal=false") or one of extra. A line counts
// once, for the first pattern that matches, built-ins first.
func ScanLogs(logs []byte, extra []*regexp.Regexp) []LogHit {
	var hits []LogHit
	for i, line := range strings.Split(string(logs), "\n") {
		line = strings.TrimRight(line, "\r")
		if p, ok := matchLine(line, extra); ok {
			hits = append(hits, LogHit{Pattern: p, Line: i + 1, Text: clip(strings.TrimSpace(line))})
		}
	}
	return hits
}

func matchLine(line string, extra []*regexp.Regexp) (string, bool) {
	for _, b := range builtins {
		if b.word {
			if wordMatch(b.re, line) {
				return b.name, true
			}
		} else if b.re.MatchString(line) {
			return b.name, true
		}
	}
	for _, re := range extra {
		if re != nil && re.MatchString(line) {
			return re.String(), true
		}
	}
	return "", false
}

// wordMatch reports whether re matches line somewhere as a word rather than as part of a
// setting or an identifier.
func wordMatch(re *regexp.Regexp, line string) bool {
	for _, m := range re.FindAllStringIndex(line, -1) {
		before, after := line[:m[0]], line[m[1]:]
		if strings.HasSuffix(before, "-") || strings.HasSuffix(before, ".") || strings.HasSuffix(before, "/") {
			continue
		}
		if strings.HasPrefix(after, "-") || strings.HasPrefix(after, ".") && len(after) > 1 && after[1] != ' ' ||
			strings.HasPrefix(after, "/") || strings.HasPrefix(after, "=") || strings.HasPrefix(after, `":`) {
			continue
		}
		return true
	}
	return false
}
