package testreport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// goEvent is one test2json event (go doc test2json), with the build events of Go 1.24+.
type goEvent struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string
	FailedBuild string
}

type goPackage struct {
	name       string
	done       bool
	running    map[string][]string // test → its output, while it runs
	runOrder   []string
	testFailed bool
	output     []string // package-level output
}

// Names of the errored case a failed package without a failed test gets (go-junit-report's).
const (
	goBuildFailed = "[build failed]"
	goSetupFailed = "[setup failed]"
	goFailure     = "Failure"
)

var (
	// goTextBuildFailure is the line an old go command prints, outside JSON, for a package that
	// did not build.
	goTextBuildFailure = regexp.MustCompile(`^FAIL\s+(\S+)\s+(\[(?:build|setup) failed\])$`)
	// goTextResult matches lines only plain (not -json) go test output has.
	goTextResult = regexp.MustCompile(`^(=== RUN\s|\s*--- (PASS|FAIL|SKIP): |ok\s+\S+\s|PASS$)`)
	// goSummary matches the package summary lines left out of a package failure's message.
	goSummary = regexp.MustCompile(`^(PASS|FAIL|(ok|FAIL)\s+\S+\s+\S+s)$`)
)

type goParser struct {
	pkgs     map[string]*goPackage
	order    []string
	build    map[string][]string // ImportPath → build output
	text     map[string][]string // "# pkg" section of plain-text build output → its lines
	section  string
	runs     []Case
	events   int
	failures int // plain-text build failures
}

func parseGoTest(b []byte) (*Report, error) {
	p := &goParser{pkgs: map[string]*goPackage{}, build: map[string][]string{}, text: map[string][]string{}}
	for i, line := range lines(b) {
		l := strings.TrimSpace(line)
		switch {
		case l == "":
		case l[0] == '{':
			var ev goEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				return nil, fmt.Errorf("%w: go test -json line %d: %v", ErrMalformed, i+1, err)
			}
			if ev.Action == "" {
				return nil, fmt.Errorf("%w: go test -json line %d has no Action", ErrMalformed, i+1)
			}
			p.events++
			if err := p.event(ev); err != nil {
				return nil, err
			}
		case goTextResult.MatchString(line):
			return nil, fmt.Errorf("%w: line %d is plain `go test` output, not go test -json", ErrMalformed, i+1)
		default:
			p.textLine(l)
		}
	}
	if p.events == 0 && p.failures == 0 {
		return nil, fmt.Errorf("%w: no go test -json events", ErrMalformed)
	}
	for _, name := range p.order {
		if !p.pkgs[name].done {
			return nil, fmt.Errorf("%w: package %s has no final result (the stream was cut)", ErrMalformed, name)
		}
	}
	return newReport(FormatGoTest, p.runs, true, nil), nil
}

func (p *goParser) pkg(name string) *goPackage {
	if pk, ok := p.pkgs[name]; ok {
		return pk
	}
	pk := &goPackage{name: name, running: map[string][]string{}}
	p.pkgs[name] = pk
	p.order = append(p.order, name)
	return pk
}

// textLine takes a line outside JSON: build output of an old go command.
func (p *goParser) textLine(l string) {
	if m := goTextBuildFailure.FindStringSubmatch(l); m != nil {
		p.failures++
		pk := p.pkg(m[1])
		if pk.done {
			return
		}
		pk.done = true
		msg := p.text[m[1]]
		if msg == nil {
			msg = p.text[""]
		}
		p.runs = append(p.runs, Case{Suite: pk.name, Name: m[2], Outcome: Errored, Message: message(strings.Join(msg, "\n"))})
		return
	}
	if name, ok := strings.CutPrefix(l, "# "); ok {
		name, _, _ = strings.Cut(name, " ") // "# pkg [pkg.test]"
		p.section = name
		return
	}
	p.text[p.section] = append(p.text[p.section], l)
}

func (p *goParser) event(ev goEvent) error {
	switch ev.Action {
	case "build-output":
		p.build[ev.ImportPath] = append(p.build[ev.ImportPath], ev.Output)
		return nil
	case "build-fail":
		return nil
	}
	pk := p.pkg(ev.Package)
	switch ev.Action {
	case "run":
		if ev.Test != "" {
			if _, ok := pk.running[ev.Test]; !ok {
				pk.runOrder = append(pk.runOrder, ev.Test)
			}
			pk.running[ev.Test] = []string{}
		}
	case "output":
		if ev.Test == "" {
			pk.output = append(pk.output, ev.Output)
		} else if out, ok := pk.running[ev.Test]; ok {
			pk.running[ev.Test] = append(out, ev.Output)
		}
	case "pass", "fail", "skip":
		if ev.Test != "" {
			p.testEnd(pk, ev)
			return nil
		}
		return p.packageEnd(pk, ev)
	}
	return nil
}

func (p *goParser) testEnd(pk *goPackage, ev goEvent) {
	out := pk.running[ev.Test]
	delete(pk.running, ev.Test)
	c := Case{Suite: pk.name, Name: ev.Test, Duration: seconds(ev.Elapsed)}
	switch ev.Action {
	case "pass":
		c.Outcome = Passed
	case "fail":
		c.Outcome, c.Message = Failed, goTestMessage(out)
		pk.testFailed = true
	case "skip":
		c.Outcome, c.Message = Skipped, goTestMessage(out)
	}
	p.runs = append(p.runs, c)
}

func (p *goParser) packageEnd(pk *goPackage, ev goEvent) error {
	pk.done = true
	var unfinished []string
	for _, name := range pk.runOrder {
		if _, ok := pk.running[name]; ok {
			unfinished = append(unfinished, name)
		}
	}
	if ev.Action != "fail" {
		if len(unfinished) > 0 {
			return fmt.Errorf("%w: package %s ended (%s) but test %s has no result", ErrMalformed, pk.name, ev.Action, unfinished[0])
		}
		return nil
	}
	pkgOut := goPackageMessage(pk.output)
	for _, name := range unfinished { // the binary died under it: a panic, a timeout
		msg := goTestMessage(pk.running[name])
		if pkgOut != "" {
			msg = message(msg + "\n" + pkgOut)
		}
		p.runs = append(p.runs, Case{Suite: pk.name, Name: name, Outcome: Failed, Message: msg})
		delete(pk.running, name)
		pk.testFailed = true
	}
	if pk.testFailed {
		return nil
	}
	c := Case{Suite: pk.name, Name: goFailure, Outcome: Errored, Duration: seconds(ev.Elapsed), Message: pkgOut}
	all := strings.Join(pk.output, "")
	switch {
	case ev.FailedBuild != "":
		c.Name, c.Message = goBuildFailed, message(strings.Join(p.build[ev.FailedBuild], ""))
	case strings.Contains(all, goSetupFailed):
		c.Name = goSetupFailed
	case strings.Contains(all, goBuildFailed):
		c.Name = goBuildFailed
	}
	p.runs = append(p.runs, c)
	return nil
}

// goTestMessage keeps a test's own output, without the framing lines go test adds.
func goTestMessage(out []string) string {
	var keep []string
	for _, o := range out {
		t := strings.TrimSpace(o)
		switch {
		case strings.HasPrefix(t, "=== RUN"), strings.HasPrefix(t, "=== PAUSE"),
			strings.HasPrefix(t, "=== CONT"), strings.HasPrefix(t, "=== NAME"),
			strings.HasPrefix(t, "--- PASS: "), strings.HasPrefix(t, "--- FAIL: "),
			strings.HasPrefix(t, "--- SKIP: "):
			continue
		}
		keep = append(keep, strings.TrimRight(o, "\n"))
	}
	return message(strings.Join(keep, "\n"))
}

// goPackageMessage keeps a package's output without its PASS/FAIL summary lines.
func goPackageMessage(out []string) string {
	var keep []string
	for _, o := range out {
		o = strings.TrimRight(o, "\n")
		if goSummary.MatchString(strings.TrimSpace(o)) || strings.HasPrefix(strings.TrimSpace(o), "=== CONT") {
			continue
		}
		keep = append(keep, o)
	}
	return message(strings.Join(keep, "\n"))
}

// goBuildFailureOnly reports whether plain text is what an old go command prints for
// go test -json when packages fail to build: build errors and "FAIL pkg [build failed]" lines,
// and none of the lines of plain go test output.
func goBuildFailureOnly(t []byte) bool {
	found := false
	for _, l := range lines(t) {
		if goTextResult.MatchString(l) {
			return false
		}
		found = found || goTextBuildFailure.MatchString(strings.TrimSpace(l))
	}
	return found
}
