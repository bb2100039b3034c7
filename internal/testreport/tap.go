package testreport

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	tapPlan      = regexp.MustCompile(`^(\d{1,9})\.\.(\d{1,9})(?:\s+#\s*(.*))?$`)
	tapSubtest   = regexp.MustCompile(`^# Subtest(?::\s*(.*))?$`)
	tapBailOut   = regexp.MustCompile(`(?i)^bail out!\s*(.*)$`)
	tapVersion   = regexp.MustCompile(`(?i)^TAP version \d+$`)
	tapDirective = regexp.MustCompile(`(?i)^(todo|skip)\S*\b[\s:]*(.*)$`)
	tapTime      = regexp.MustCompile(`(?i)^time=((?:[1-9][0-9]*|0)(?:\.[0-9]+)?)(ms|s)$`)
)

type tapPoint struct {
	ok        bool
	num       int
	desc      string
	directive string // "skip", "todo" or ""
	reason    string
	duration  time.Duration
	diag      []string // the YAML diagnostics block
	child     *tapBlock
}

// tapBlock is the TAP stream of one level: the document or a subtest.
type tapBlock struct {
	indent       int // -1 until the first line of a buffered subtest
	parentIndent int // of a buffered subtest: where its "}" goes
	buffered     bool
	name         string
	plan         int // -1 without a plan
	trailingPlan bool
	points       []*tapPoint
	pending      *tapBlock // a streamed subtest that ended, waiting for its closing test point
	nextName     string    // from "# Subtest: name" at this level, for the next subtest
}

type tapParser struct {
	stack      []*tapBlock
	yaml       *tapPoint // collecting the YAML block of this point
	yamlIndent int
	last       *tapPoint // the previous line was this test point
	lastIndent int
}

func parseTAP(b []byte) (*Report, error) {
	root := &tapBlock{plan: -1}
	p := &tapParser{stack: []*tapBlock{root}}
	all := lines(b)
	if n := len(all); n > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		last := strings.TrimSpace(all[n-1])
		if _, point := parsePoint(last); point || tapPlan.MatchString(last) {
			return nil, fmt.Errorf("%w: TAP ends inside the line %q (the stream was cut)", ErrMalformed, last)
		}
	}
	for i, l := range all {
		if err := p.line(l); err != nil {
			return nil, fmt.Errorf("TAP line %d: %w", i+1, err)
		}
	}
	if err := p.popTo(-1); err != nil {
		return nil, fmt.Errorf("TAP at end: %w", err)
	}
	if root.pending != nil {
		return nil, fmt.Errorf("%w: TAP ends inside subtest %q (the stream was cut)", ErrMalformed, root.pending.name)
	}
	if root.plan < 0 {
		return nil, fmt.Errorf("%w: TAP without a plan (the stream was cut, or it is not TAP)", ErrMalformed)
	}
	if err := root.check(); err != nil {
		return nil, err
	}
	var runs []Case
	root.emit(nil, &runs)
	return newReport(FormatTAP, runs, false, &Declared{Tests: root.plan}), nil
}

func (p *tapParser) top() *tapBlock { return p.stack[len(p.stack)-1] }

func (p *tapParser) line(raw string) error {
	content := strings.TrimLeft(raw, " ")
	ind := len(raw) - len(content)
	content = strings.TrimRight(content, " \t")
	if p.yaml != nil {
		if ind >= p.yamlIndent || content == "" {
			if content == "..." && ind == p.yamlIndent {
				p.yaml = nil
				return nil
			}
			p.yaml.diag = append(p.yaml.diag, raw)
			return nil
		}
		p.yaml = nil // a block without "...": it ends where the indentation does
	}
	if content == "" {
		return nil
	}
	last := p.last
	p.last = nil
	if content == "---" && last != nil && ind > p.lastIndent {
		p.yaml, p.yamlIndent = last, ind
		return nil
	}
	if m := tapBailOut.FindStringSubmatch(content); m != nil {
		return fmt.Errorf("%w: TAP bailed out: %s", ErrIncomplete, m[1])
	}
	if content == "}" {
		return p.closeBuffered(ind)
	}
	point, isPoint := parsePoint(content)
	plan := tapPlan.FindStringSubmatch(content)
	sub := tapSubtest.FindStringSubmatch(content)
	if !isPoint && plan == nil && sub == nil {
		return nil // a comment, the version, a pragma or a line that is not TAP
	}
	if err := p.popTo(ind); err != nil {
		return err
	}
	top := p.top()
	if top.buffered && top.indent < 0 {
		top.indent = ind
	}
	if ind > top.indent {
		if top.pending != nil {
			return fmt.Errorf("%w: subtest %q has no closing test point", ErrMalformed, top.pending.name)
		}
		if len(p.stack) > maxDepth {
			return fmt.Errorf("%w: TAP subtests nested deeper than %d", ErrMalformed, maxDepth)
		}
		child := &tapBlock{indent: ind, plan: -1, name: top.nextName}
		top.nextName = ""
		p.stack = append(p.stack, child)
		if sub != nil && child.name == "" { // TAP 14 puts "# Subtest: name" inside the subtest
			child.name = sub[1]
			return nil
		}
		top = child
	}
	switch {
	case sub != nil:
		if top.pending != nil {
			return fmt.Errorf("%w: subtest %q has no closing test point", ErrMalformed, top.pending.name)
		}
		top.nextName = sub[1]
	case plan != nil:
		if top.plan >= 0 {
			return fmt.Errorf("%w: a second plan %q", ErrMalformed, content)
		}
		start, _ := strconv.Atoi(plan[1])
		end, _ := strconv.Atoi(plan[2])
		top.plan = max(0, end-start+1)
		top.trailingPlan = len(top.points) > 0
	default:
		if top.trailingPlan {
			return fmt.Errorf("%w: test point after the closing plan", ErrMalformed)
		}
		if top.pending != nil {
			point.child, top.pending = top.pending, nil
			if point.child.name == "" {
				point.child.name = point.desc
			}
		}
		top.nextName = ""
		top.points = append(top.points, point)
		if point.child == nil && strings.HasSuffix(point.desc, "{") {
			point.desc = strings.TrimSpace(strings.TrimSuffix(point.desc, "{"))
			if len(p.stack) > maxDepth {
				return fmt.Errorf("%w: TAP subtests nested deeper than %d", ErrMalformed, maxDepth)
			}
			point.child = &tapBlock{indent: -1, parentIndent: ind, buffered: true, plan: -1, name: point.desc}
			p.stack = append(p.stack, point.child)
		}
		p.last, p.lastIndent = point, ind
	}
	return nil
}

// popTo ends the subtests deeper than indent ind (-1 ends all of them).
func (p *tapParser) popTo(ind int) error {
	for len(p.stack) > 1 {
		top := p.top()
		if top.buffered {
			switch {
			case top.indent < 0 && ind > top.parentIndent, top.indent >= 0 && ind >= top.indent:
				return nil
			case top.indent < 0 && len(top.points) == 0 && top.plan < 0:
				// "{" ended a description, not a buffered subtest
				parent := p.stack[len(p.stack)-2]
				parent.points[len(parent.points)-1].child = nil
				p.stack = p.stack[:len(p.stack)-1]
				continue
			}
			return fmt.Errorf("%w: buffered subtest %q not closed with \"}\"", ErrMalformed, top.name)
		}
		if top.indent <= ind {
			return nil
		}
		p.stack = p.stack[:len(p.stack)-1]
		parent := p.top()
		if parent.pending != nil {
			return fmt.Errorf("%w: subtest %q has no closing test point", ErrMalformed, parent.pending.name)
		}
		parent.pending = top
	}
	return nil
}

// closeBuffered takes a "}" line.
func (p *tapParser) closeBuffered(ind int) error {
	for i := len(p.stack) - 1; i > 0; i-- {
		b := p.stack[i]
		if !b.buffered {
			continue
		}
		if b.parentIndent != ind {
			return nil // not a closing brace of ours: a line that is not TAP
		}
		if b.indent >= 0 {
			if err := p.popTo(b.indent); err != nil {
				return err
			}
		}
		if b.pending != nil {
			return fmt.Errorf("%w: subtest %q has no closing test point", ErrMalformed, b.pending.name)
		}
		p.stack = p.stack[:i]
		return nil
	}
	return nil
}

// check compares the plans with the test points, in b and its subtests.
func (b *tapBlock) check() error {
	if b.plan >= 0 && b.plan != len(b.points) {
		what := "TAP"
		if b.name != "" {
			what = fmt.Sprintf("TAP subtest %q", b.name)
		}
		return fmt.Errorf("%w: %s plans %d tests but has %d (the stream was cut, or tests are missing)", ErrMalformed, what, b.plan, len(b.points))
	}
	for _, pt := range b.points {
		if pt.child != nil {
			if err := pt.child.check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// emit appends the cases of b under path and reports whether any of them failed.
func (b *tapBlock) emit(path []string, runs *[]Case) bool {
	anyFailed := false
	for i, pt := range b.points {
		name := pt.desc
		if name == "" {
			n := pt.num
			if n == 0 {
				n = i + 1
			}
			name = "#" + strconv.Itoa(n)
		}
		if pt.child != nil && len(pt.child.points) > 0 {
			childName := pt.child.name
			if childName == "" {
				childName = name
			}
			childFailed := pt.child.emit(append(path[:len(path):len(path)], childName), runs)
			anyFailed = anyFailed || childFailed
			if childFailed || pt.ok || pt.directive != "" {
				continue
			}
		}
		c := pt.toCase(joinPath(path...), name)
		anyFailed = anyFailed || c.Outcome.Bad()
		*runs = append(*runs, c)
	}
	return anyFailed
}

func (pt *tapPoint) toCase(suite, name string) Case {
	c := Case{Suite: suite, Name: name, Duration: pt.duration}
	msg, dur := tapDiag(pt.diag)
	if c.Duration == 0 {
		c.Duration = dur
	}
	switch {
	case pt.directive == "skip":
		c.Outcome, c.Message = Skipped, message(pt.reason)
	case pt.directive == "todo":
		c.Outcome, c.Message = Todo, message(pt.reason)
	case pt.ok:
		c.Outcome = Passed
	default:
		c.Outcome, c.Message = Failed, msg
	}
	return c
}

// parsePoint parses a test point line ("ok", "not ok 3 - name # SKIP why"), as tapjs does.
func parsePoint(s string) (*tapPoint, bool) {
	pt := &tapPoint{}
	rest, found := strings.CutPrefix(s, "not ok")
	if !found {
		if rest, found = strings.CutPrefix(s, "ok"); !found {
			return nil, false
		}
		pt.ok = true
	}
	if rest != "" && rest[0] != ' ' {
		return nil, false
	}
	rest = strings.TrimLeft(rest, " ")
	digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
	if digits > 0 && (digits == len(rest) || rest[digits] == ' ') {
		pt.num, _ = strconv.Atoi(rest[:digits])
		rest = strings.TrimLeft(rest[digits:], " ")
	}
	if rest == "-" {
		rest = ""
	} else if r, ok := strings.CutPrefix(rest, "- "); ok {
		rest = r
	}
	desc, dir, hasDir := splitDirective(rest)
	if hasDir {
		if m := tapTime.FindStringSubmatch(dir); m != nil {
			f, _ := strconv.ParseFloat(m[1], 64)
			if strings.EqualFold(m[2], "ms") {
				f /= 1000
			}
			pt.duration = seconds(f)
		} else if m := tapDirective.FindStringSubmatch(dir); m != nil {
			pt.directive, pt.reason = strings.ToLower(m[1]), m[2]
		} else {
			desc += "#" + dir
		}
	}
	pt.desc = strings.TrimSpace(unescapeTAP(desc))
	return pt, true
}

// splitDirective splits a description at its first "#" that follows whitespace (or starts it)
// and is not escaped with "\".
func splitDirective(s string) (desc, dir string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '#':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '\t' {
				return s[:i], strings.TrimSpace(s[i+1:]), true
			}
		}
	}
	return s, "", false
}

func unescapeTAP(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\\`, `\`, `\#`, `#`).Replace(s)
}

// tapDiag reads the message and the duration from a YAML diagnostics block: the top-level
// message: or error: scalar, else the whole block; duration_ms:.
func tapDiag(diag []string) (string, time.Duration) {
	if len(diag) == 0 {
		return "", 0
	}
	minIndent := -1
	for _, l := range diag {
		if t := strings.TrimLeft(l, " "); t != "" && (minIndent < 0 || len(l)-len(t) < minIndent) {
			minIndent = len(l) - len(t)
		}
	}
	var msg string
	var dur time.Duration
	var block []string
	for _, l := range diag {
		if len(l) >= minIndent && minIndent >= 0 {
			l = l[minIndent:]
		}
		block = append(block, l)
		key, value, ok := strings.Cut(l, ":")
		if !ok || strings.HasPrefix(key, " ") {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `'"`)
		switch key {
		case "message", "error":
			if msg == "" && value != "" && value != "|" && value != "|-" && value != ">" && value != ">-" {
				msg = value
			}
		case "duration_ms":
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				dur = seconds(f / 1000)
			}
		}
	}
	if msg == "" {
		msg = strings.Join(block, "\n")
	}
	return message(msg), dur
}

// looksLikeTAP reports whether the first line that is not blank or a comment is a TAP line.
func looksLikeTAP(t []byte) bool {
	for _, l := range lines(t) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		_, point := parsePoint(l)
		return point || tapVersion.MatchString(l) || tapPlan.MatchString(l) || tapBailOut.MatchString(l)
	}
	return false
}
