package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// redact replaces what differs from run to run (the run id, the start and end times) with
// placeholders, so the golden files show where they go without depending on them.
func redact(s string, r *Report) string {
	pairs := []string{}
	if r.RunID != "" {
		pairs = append(pairs, r.RunID, "<RUN-ID>")
	}
	for _, t := range []struct {
		at   time.Time
		name string
	}{{r.StartedAt, "<STARTED>"}, {r.FinishedAt, "<FINISHED>"}} {
		if !t.at.IsZero() {
			pairs = append(pairs, t.at.Format(time.RFC3339Nano), t.name)
		}
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// golden compares got with the golden file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// TestGolden writes every fixture with WriteDir and compares each file with its golden copy
// in testdata/<fixture>/, plus the coloured text view of each fixture.
func TestGolden(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			dir := t.TempDir()
			paths, err := WriteDir(dir, fx.rep)
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != len(Encoders()) {
				t.Fatalf("WriteDir wrote %d files, want %d", len(paths), len(Encoders()))
			}
			for i, e := range Encoders() {
				if want := filepath.Join(dir, e.Filename()); paths[i] != want {
					t.Errorf("path %d = %s, want %s", i, paths[i], want)
				}
				b, err := os.ReadFile(paths[i])
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", fx.name, e.Filename()), redact(string(b), fx.rep))
			}
			var color bytes.Buffer
			if err := (Text{Color: true}).Encode(&color, fx.rep); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", fx.name, "summary.color.txt"), redact(color.String(), fx.rep))
		})
	}
}

// TestFixtureVerdicts pins what the fixtures are for: a GO patch, a NO-GO distro upgrade and
// a first deployment that could not be decided.
func TestFixtureVerdicts(t *testing.T) {
	want := map[string]verdict.Decision{"go-patch": verdict.Go, "nogo-distro": verdict.NoGo, "first-deploy-error": verdict.Error}
	for _, fx := range fixtures() {
		if got := fx.rep.Verdict.Decision; got != want[fx.name] {
			t.Errorf("%s: decision %s, want %s (%s)", fx.name, got, want[fx.name], fx.rep.Verdict.Summary)
		}
	}
}

func TestTextShowsTheVerdictFirstAndCapsTables(t *testing.T) {
	r := noGoDistro()
	var b bytes.Buffer
	if err := (Text{MaxRows: 4}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	first, _, _ := strings.Cut(out, "\n")
	if want := "NO-GO  alpine:3.19.4 → alpine:3.20.3  (distro upgrade, risk high)"; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
	for _, want := range []string{
		"  L2 smoke       not-run: not available in this build of plimsoll\n",
		"FAIL  L1 vulnerabilities",
		"threshold  no new findings at or above high",
		"  … 11 more rows (all rows are in summary.json)\n", // 15 package changes, 4 shown
		"CVE-2024-9143", // 3 vulnerabilities, all shown
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ca-certificates-bundle") {
		t.Errorf("text view shows row 15 of a table capped at 4 rows")
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("uncoloured text view holds an escape sequence")
	}
}

func TestTextColour(t *testing.T) {
	var b bytes.Buffer
	if err := (Text{Color: true}).Encode(&b, noGoDistro()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), ansiRed+"NO-GO"+ansiReset+"  alpine:3.19.4") {
		t.Errorf("coloured verdict line: %q", strings.SplitN(b.String(), "\n", 2)[0])
	}
}

// TestJSONRoundTrip decodes summary.json as any consumer would and checks the fields the
// schema promises.
func TestJSONRoundTrip(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (JSON{}).Encode(&b, fx.rep); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), "{\n  \"schemaVersion\": \""+SchemaVersion+"\",\n") {
				t.Errorf("summary.json does not start with schemaVersion:\n%.80s", b.String())
			}
			var m map[string]any
			if err := json.Unmarshal(b.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			v := m["verdict"].(map[string]any)
			if v["decision"] != string(fx.rep.Verdict.Decision) || v["summary"] != fx.rep.Verdict.Summary {
				t.Errorf("verdict %v, want %s %q", v, fx.rep.Verdict.Decision, fx.rep.Verdict.Summary)
			}
			if _, ok := v["reasons"].([]any); !ok {
				t.Errorf("verdict.reasons is %T, want a list", v["reasons"])
			}
			if fx.rep.Old == nil {
				if old, ok := m["old"]; !ok || old != nil {
					t.Errorf("old = %v, want null for a first deployment", old)
				}
			} else if old := m["old"].(map[string]any); old["digest"] != fx.rep.Old.Digest {
				t.Errorf("old.digest = %v", old["digest"])
			}
			if m["runId"] != fx.rep.RunID || m["startedAt"] != fx.rep.StartedAt.Format(time.RFC3339Nano) {
				t.Errorf("runId %v startedAt %v", m["runId"], m["startedAt"])
			}
			p := m["plan"].(map[string]any)
			if p["kind"] != fx.rep.Plan.Kind || p["budget"] != time.Duration(fx.rep.Plan.Budget).String() {
				t.Errorf("plan kind %v budget %v", p["kind"], p["budget"])
			}
			ls := m["layers"].([]any)
			if len(ls) != len(fx.rep.Layers) {
				t.Fatalf("%d layers, want %d", len(ls), len(fx.rep.Layers))
			}
			for i, l := range ls {
				l := l.(map[string]any)
				want := fx.rep.Layers[i]
				if l["layer"] != float64(want.Layer) || l["state"] != want.State || l["status"] != want.Status.String() {
					t.Errorf("layer %d = %v %v %v, want %d %s %s", i, l["layer"], l["state"], l["status"], want.Layer, want.State, want.Status)
				}
				rs, ok := l["results"].([]any)
				if !ok || len(rs) != len(want.Results) {
					t.Fatalf("layer %d results %v", i, l["results"])
				}
				for j, res := range rs {
					res := res.(map[string]any)
					if res["check"] != want.Results[j].Check || res["status"] != want.Results[j].Status.String() {
						t.Errorf("result %d.%d = %v", i, j, res)
					}
				}
			}
			// And back into a Report: the typed fields survive.
			var back Report
			if err := json.Unmarshal(b.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			opts := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Data" }, cmp.Ignore())
			if diff := cmp.Diff(fx.rep, &back, opts); diff != "" {
				t.Errorf("report changed through summary.json (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONNeverWritesNullLists(t *testing.T) {
	r := &Report{New: Subject{Ref: "x"}, Layers: []Layer{{Layer: check.L1Diff, Name: "diff", State: StateRan}}}
	var b bytes.Buffer
	if err := (JSON{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["schemaVersion"] != SchemaVersion {
		t.Errorf("schemaVersion = %v", m["schemaVersion"])
	}
	for _, path := range [][]string{{"plan", "layers"}, {"plan", "reasons"}, {"verdict", "reasons"}} {
		if _, ok := m[path[0]].(map[string]any)[path[1]].([]any); !ok {
			t.Errorf("%s is not a list", strings.Join(path, "."))
		}
	}
	if _, ok := m["layers"].([]any)[0].(map[string]any)["results"].([]any); !ok {
		t.Errorf("layers[0].results is not a list")
	}
	if r.SchemaVersion != "" || r.Layers[0].Results != nil {
		t.Errorf("Encode changed the report it was given")
	}
}

// parseJUnit decodes junit.xml strictly, token by token, and then into the encoder's types.
func parseJUnit(t testing.TB, b []byte) junitSuites {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("junit.xml does not parse: %v\n%s", err, b)
		}
	}
	var s junitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		t.Fatalf("junit.xml does not decode: %v", err)
	}
	return s
}

func TestJUnitStructure(t *testing.T) {
	var b bytes.Buffer
	r := noGoDistro()
	if err := (JUnit{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	s := parseJUnit(t, b.Bytes())
	if len(s.Suites) != 6 || s.Suites[0].Name != "L1 diff" {
		t.Fatalf("suites: %d, first %q", len(s.Suites), s.Suites[0].Name)
	}
	l1 := s.Suites[0]
	if l1.Tests != 3 || l1.Failures != 1 || l1.Errors != 0 || l1.Skipped != 0 || l1.Time != "121.250" {
		t.Errorf("L1 suite counts: %+v", l1)
	}
	byName := map[string]junitCase{}
	for _, c := range l1.Cases {
		if c.Classname != "plimsoll.L1.diff" {
			t.Errorf("classname %q", c.Classname)
		}
		byName[c.Name] = c
	}
	f := byName["vulnerabilities"].Failure
	if f == nil || !strings.HasPrefix(f.Message, "2 new at or above high") {
		t.Fatalf("vulnerabilities failure: %+v", f)
	}
	for _, want := range []string{"measured   new: 1 critical", "baseline   old: none", "threshold  no new findings", "source     grype database", "CVE-2024-9143"} {
		if !strings.Contains(f.Body, want) {
			t.Errorf("failure body lacks %q:\n%s", want, f.Body)
		}
	}
	if out := byName["packages"].SystemOut; out == nil || !strings.HasPrefix(out.Text, "CAUTION: unexpected removal: scanelf") || byName["packages"].Failure != nil {
		t.Errorf("warn case: %+v", byName["packages"])
	}
	smoke := s.Suites[1]
	if smoke.Skipped != 1 || len(smoke.Cases) != 1 || smoke.Cases[0].Skipped == nil ||
		smoke.Cases[0].Skipped.Message != "not run: not available in this build of plimsoll" {
		t.Errorf("not-run layer: %+v", smoke)
	}
	if s.Tests != 8 || s.Failures != 1 || s.Skipped != 5 || s.Time != "124.000" {
		t.Errorf("testsuites totals: tests %d failures %d skipped %d time %s", s.Tests, s.Failures, s.Skipped, s.Time)
	}
	props := map[string]string{}
	for _, p := range l1.Properties {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{"plimsoll.old.digest": digestOld, "plimsoll.new.digest": digestNew,
		"plimsoll.plan.kind": "distro", "plimsoll.verdict": "NO-GO"} {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
}

func TestJUnitErrorOfFirstDeployment(t *testing.T) {
	var b bytes.Buffer
	if err := (JUnit{}).Encode(&b, firstDeployError()); err != nil {
		t.Fatal(err)
	}
	s := parseJUnit(t, b.Bytes())
	c := s.Suites[0].Cases[2]
	if c.Name != "vulnerabilities" || c.Error == nil || c.Error.Type != "error" || !strings.Contains(c.Error.Body, "vulndb update") {
		t.Errorf("error case: %+v", c)
	}
	if s.Errors != 1 {
		t.Errorf("errors = %d, want 1", s.Errors)
	}
}

// xmlAllowed reports whether every character of s may appear in an XML 1.0 document.
func xmlAllowed(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return utf8.ValidString(s)
}

func checkHostileJUnit(t testing.TB, r *Report) {
	var b bytes.Buffer
	if err := (JUnit{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	if !xmlAllowed(b.String()) {
		t.Fatalf("junit.xml holds characters XML 1.0 forbids")
	}
	s := parseJUnit(t, b.Bytes())
	if len(s.Suites) != len(r.Layers) {
		t.Fatalf("%d suites for %d layers", len(s.Suites), len(r.Layers))
	}
	if got, want := s.Suites[0].Cases[0].Name, cleanLine(r.Layers[0].Results[0].Check); got != want {
		t.Errorf("testcase name %q, want %q", got, want)
	}
}

func TestJUnitHostileStrings(t *testing.T) {
	r := hostileReport(hostile, 20000)
	checkHostileJUnit(t, r)
	var b bytes.Buffer
	if err := (JUnit{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	s := parseJUnit(t, b.Bytes())
	f := s.Suites[0].Cases[0].Failure
	if f == nil || !strings.Contains(f.Body, "<script>alert(1)</script> a|b ]]>") || strings.ContainsAny(f.Body, "\x1b\x00\u202e") {
		t.Errorf("failure body did not keep the text or kept control characters: %q", f.Body[:200])
	}
	if w := s.Suites[0].Cases[2].SystemOut; w == nil || !strings.HasPrefix(w.Text, "CAUTION: "+cleanBlock(hostile)) {
		t.Errorf("warn system-out did not keep the text: %+v", w)
	}
	if utf8.RuneCountInString(f.Message) > junitMessage {
		t.Errorf("message attribute of %d runes", utf8.RuneCountInString(f.Message))
	}
}

// allowedTag matches the only HTML the Markdown encoder writes itself.
var allowedTag = regexp.MustCompile(`^</?(details|summary|sub)>`)

// checkMarkdown checks what must hold of any summary.md: no HTML but the encoder's own, every
// table row with as many cells as its header, <details> balanced, within GitHub's limit.
func checkMarkdown(t testing.TB, out string) {
	t.Helper()
	if len(out) > markdownLimit {
		t.Errorf("summary.md is %d bytes, over the %d limit", len(out), markdownLimit)
	}
	if !utf8.ValidString(out) {
		t.Errorf("summary.md is not valid UTF-8")
	}
	for i := strings.IndexByte(out, '<'); i >= 0; i = strings.IndexByte(out, '<') {
		if !allowedTag.MatchString(out[i:]) {
			t.Fatalf("raw HTML in summary.md: %.60q", out[i:])
		}
		out2 := out[i+1:]
		out = out2
	}
	if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && dropped(r) }) {
		t.Errorf("summary.md holds control characters")
	}
}

// checkMarkdownLines checks the line structure of summary.md.
func checkMarkdownLines(t testing.TB, out string) {
	t.Helper()
	if o, c := strings.Count(out, "<details>"), strings.Count(out, "</details>"); o != c {
		t.Errorf("%d <details> but %d </details>", o, c)
	}
	cells := -1
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			continue
		}
		n := unescapedPipes(line)
		if cells < 0 {
			cells = n
		} else if n != cells {
			t.Errorf("table row with %d separators, header has %d: %.100q", n, cells, line)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		for _, bad := range []string{"#", "---", "=", "1."} {
			if strings.HasPrefix(line, bad) && !strings.HasPrefix(line, "### plimsoll: ") && !strings.HasPrefix(line, "#### Why") {
				t.Errorf("line starts with %q, which Markdown reads as syntax: %.80q", bad, line)
			}
		}
	}
}

// unescapedPipes counts the | of a line that are not escaped by a backslash.
func unescapedPipes(line string) int {
	n, backslashes := 0, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			backslashes++
			continue
		case '|':
			if backslashes%2 == 0 {
				n++
			}
		}
		backslashes = 0
	}
	return n
}

func TestMarkdownHostileStrings(t *testing.T) {
	var b bytes.Buffer
	if err := (Markdown{}).Encode(&b, hostileReport(hostile, 20000)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkMarkdown(t, out)
	checkMarkdownLines(t, out)
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; a\\|b \\]\\]&gt; \\`code\\`", "\\*bold\\*"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary.md lacks the escaped %q", want)
		}
	}
}

func TestMarkdownStaysUnderGitHubLimit(t *testing.T) {
	r := noGoDistro()
	long := strings.Repeat("x", 3000)
	for range 200 {
		r.Verdict.Reasons = append(r.Verdict.Reasons, verdict.Reason{Layer: check.L1Diff, Check: "c", Status: check.StatusFail,
			Message: long, Measured: long, Threshold: long})
		r.Layers[0].Results = append(r.Layers[0].Results, check.Result{Layer: check.L1Diff, Check: "c", Status: check.StatusFail,
			Tables: []check.Table{{Title: "t", Columns: []string{"a"}, Rows: [][]string{{long}, {long}}}}})
	}
	var b bytes.Buffer
	if err := (Markdown{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkMarkdown(t, out)
	checkMarkdownLines(t, out)
	if !strings.Contains(out, "left out to stay within GitHub's 65536-character comment limit") {
		t.Errorf("truncated summary.md has no note")
	}
	if !strings.HasPrefix(out, "### plimsoll: alpine:3.19.4 → alpine:3.20.3\n\n**NO-GO** — ") {
		t.Errorf("truncated summary.md lost its heading: %.100q", out)
	}
	if len(out) < markdownLimit-5000 {
		t.Errorf("summary.md is %d bytes: truncated far below the limit", len(out))
	}
}

func TestMarkdownBadgeAndTables(t *testing.T) {
	var b bytes.Buffer
	if err := (Markdown{MaxRows: 5}).Encode(&b, noGoDistro()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"**NO-GO** — 1 check failed; not verified: L2 smoke, L3 functional, L4 perf, L5 harden, L6 soak\n",
		"| L2 smoke | not-run: not available in this build of plimsoll | – | – |\n",
		"| L1 diff | ran | **fail** | 2m1s |\n",
		"<details><summary>Package changes (L1 packages, 15 rows)</summary>",
		"_… 10 more rows in summary.json._",
		"- **fail** L1 vulnerabilities: 2 new at or above high",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, out)
		}
	}
	checkMarkdown(t, out)
	checkMarkdownLines(t, out)
}

func TestTextHostileStrings(t *testing.T) {
	var b bytes.Buffer
	if err := (Text{}).Encode(&b, hostileReport(hostile, 500)); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsFunc(b.String(), func(r rune) bool { return r != '\n' && dropped(r) }) {
		t.Errorf("text view passes control characters through")
	}
}

func TestLookup(t *testing.T) {
	for _, e := range Encoders() {
		got, err := Lookup(e.Format())
		if err != nil || got.Format() != e.Format() {
			t.Errorf("Lookup(%q) = %v, %v", e.Format(), got, err)
		}
	}
	for _, f := range []string{"", "HTML", "JSON", "md", "xml", "sarif2"} {
		if e, err := Lookup(f); !errors.Is(err, ErrUnknownFormat) || e != nil {
			t.Errorf("Lookup(%q) = %v, %v; want ErrUnknownFormat", f, e, err)
		}
	}
	want := map[string]string{"text": "summary.txt", "json": "summary.json", "junit": "junit.xml", "markdown": "summary.md",
		"html": "report.html", "sarif": "vulnerabilities.sarif"}
	if len(Encoders()) != len(want) {
		t.Errorf("%d encoders, want %d", len(Encoders()), len(want))
	}
	for _, e := range Encoders() {
		if want[e.Format()] != e.Filename() {
			t.Errorf("%s writes %s, want %s", e.Format(), e.Filename(), want[e.Format()])
		}
	}
}

func TestNilReport(t *testing.T) {
	for _, e := range Encoders() {
		if err := e.Encode(io.Discard, nil); !errors.Is(err, ErrNilReport) {
			t.Errorf("%s: Encode(nil) = %v", e.Format(), err)
		}
	}
	if _, err := WriteDir(t.TempDir(), nil); !errors.Is(err, ErrNilReport) {
		t.Errorf("WriteDir(nil) = %v", err)
	}
}

func TestWriteDirCreatesTheDirectoryAndLeavesNoTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if _, err := WriteDir(dir, goPatch()); err != nil {
		t.Fatal(err)
	}
	// A second run replaces the files in place.
	if _, err := WriteDir(dir, noGoDistro()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", e.Name(), info.Mode().Perm())
		}
	}
	if diff := cmp.Diff([]string{"junit.xml", "report.html", "summary.json", "summary.md", "summary.txt", "vulnerabilities.sarif"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"decision": "NO-GO"`)) {
		t.Errorf("summary.json was not replaced by the second run")
	}
}

func TestWriteDirReportsAnUnwritableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDir(filepath.Join(file, "reports"), goPatch()); err == nil {
		t.Errorf("WriteDir under a regular file succeeded")
	}
}

func TestEncodeReportsWriteErrors(t *testing.T) {
	for _, e := range Encoders() {
		if err := e.Encode(failingWriter{}, goPatch()); !errors.Is(err, errWrite) {
			t.Errorf("%s: Encode to a failing writer = %v", e.Format(), err)
		}
	}
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestEncodersDoNotReadTheClock guards the promise that the same report encodes to the same
// bytes: no source file of the package may call time.Now or time.Since.
func TestEncodersDoNotReadTheClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
				t.Errorf("%s: time.%s reads the clock", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

func TestCleanLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb\nc\r\nd", "a b c  d"},
		{"\x1b[31mred\x1b[0m", "[31mred[0m"},
		{"nul\x00bel\x07del\x7f", "nulbeldel"},
		{"c1\u0085\u009bx", "c1x"},
		{"\u202eevil\u202c", "evil"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"non\uFFFEchar\uFFFF", "nonchar"},
		{"→ é 漢字", "→ é 漢字"},
	} {
		if got := cleanLine(tc.in); got != tc.want {
			t.Errorf("cleanLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := cleanBlock("a\tb\nc\r\n\x1bd"); got != "a\tb\nc\nd" {
		t.Errorf("cleanBlock = %q", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 10, "abcdef"},
		{"abcdef", 6, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"→→→→→", 3, "→→…"},
		{"abc", 0, "abc"},
		{"abc", 1, "…"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{340 * time.Millisecond, "340ms"},
		{2410 * time.Millisecond, "2.41s"},
		{90 * time.Second, "1m30s"},
		{72 * time.Hour, "72h"},
		{time.Hour + 30*time.Second, "1h30s"},
	} {
		if got := fmtDuration(Duration(tc.d)); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a|b", `a\|b`},
		{"<script>", "&lt;script&gt;"},
		{"`x`", "\\`x\\`"},
		{`a\|b`, `a\\\|b`},
		{"&lt;", "&amp;lt;"},
		{"[x](y)", `\[x\](y)`},
		{"snake_case *em*", `snake\_case \*em\*`},
		{"two\nlines", "two lines"},
	} {
		if got := md(tc.in); got != tc.want {
			t.Errorf("md(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzEncoders puts arbitrary text into every string of a report: junit.xml must always
// parse, summary.md must hold no HTML but its own and keep its tables whole, and no encoder
// may fail or pass control characters to a terminal.
func FuzzEncoders(f *testing.F) {
	for _, s := range []string{hostile, "", "a|b", "<script>", "]]>", "\x00", "\xff", "`", "\\|", "--->", "&#x0;", "\u2028\u2029", "# x\n1. y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := hostileReport(s, 0)
		checkHostileJUnit(t, r)
		var md bytes.Buffer
		if err := (Markdown{}).Encode(&md, r); err != nil {
			t.Fatal(err)
		}
		checkMarkdown(t, md.String())
		checkMarkdownLines(t, md.String())
		var txt bytes.Buffer
		if err := (Text{}).Encode(&txt, r); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsFunc(txt.String(), func(r rune) bool { return r != '\n' && dropped(r) }) {
			t.Errorf("text view passes control characters through")
		}
		if err := (JSON{}).Encode(io.Discard, r); err != nil {
			t.Fatal(err)
		}
	})
}

// mention matches an "@name" GitHub turns into a mention: an "@" that starts a word, then a
// letter or digit.
var mention = regexp.MustCompile(`(^|[^A-Za-z0-9_])@[A-Za-z0-9]`)

// TestMarkdownMentionsPingNobody: "@name" from an image (labels, logs, package names) does not
// become a mention when summary.md is posted as a PR comment; an "@" inside a word stays as is.
func TestMarkdownMentionsPingNobody(t *testing.T) {
	const s = "@octocat cc:@my-org/team (@admin) label=@x @ alone app@sha256:abc me@example.com"
	var b bytes.Buffer
	if err := (Markdown{}).Encode(&b, hostileReport(s, 0)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkMarkdown(t, out)
	if m := mention.FindString(out); m != "" {
		t.Errorf("summary.md holds a mention %q:\n%s", m, out)
	}
	for _, want := range []string{"@&#8203;octocat", "@&#8203;my-org/team", "app@sha256:abc", "me@example.com", "@ alone"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

// TestSummaryJSONNoNull walks every golden summary.json: no null but a first deployment's
// "old", as docs/summary-json.md promises ("Lists are always lists").
func TestSummaryJSONNoNull(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "summary.json"))
	if len(files) == 0 {
		t.Fatal("no golden summary.json")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		nulls, err := testenv.JSONNulls(b, "$.old")
		if err != nil || len(nulls) > 0 {
			t.Errorf("%s: null where a list belongs: %v %v", f, nulls, err)
		}
	}
	// A report with every list nil, encoded as summary.json and as the run history keeps it.
	r := &Report{Layers: []Layer{{Results: []check.Result{{Tables: []check.Table{{Title: "t"}}}}}}}
	var b bytes.Buffer
	if err := (JSON{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"summary.json": b.Bytes(), "stored": stored} {
		if nulls, err := testenv.JSONNulls(doc, "$.old"); err != nil || len(nulls) > 0 {
			t.Errorf("%s: null where a list belongs: %v %v", name, nulls, err)
		}
	}
}

// TestEmptyTablesLeftOut: a table with no rows is not shown by the views ("Table (L2 logs,
// 0 rows)" said nothing); summary.json keeps it.
func TestEmptyTablesLeftOut(t *testing.T) {
	r := &Report{Layers: []Layer{{Layer: check.L2Smoke, Name: "smoke", State: StateRan, Results: []check.Result{
		{Layer: check.L2Smoke, Check: "logs", Status: check.StatusWarn, Message: "m",
			Tables: []check.Table{{Title: "Empty evidence", Columns: []string{"line"}}, {Title: "Log lines", Columns: []string{"line"}, Rows: [][]string{{"boom"}}}}},
	}}}}
	for _, enc := range []Encoder{Text{}, Markdown{}, HTML{}} {
		var b bytes.Buffer
		if err := enc.Encode(&b, r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "Empty evidence") || strings.Contains(b.String(), "0 rows") {
			t.Errorf("%s shows the empty table:\n%s", enc.Format(), b.String())
		}
		if !strings.Contains(b.String(), "Log lines") {
			t.Errorf("%s leaves out the table with rows", enc.Format())
		}
	}
}

// TestEveryTableTitled: every view (text, Markdown, HTML, JUnit) titles every table it shows,
// an untitled one as the evidence of its check, and leaves out a table with no rows: the text
// report printed "Table (L2 logs, 0 rows)".
func TestEveryTableTitled(t *testing.T) {
	r := &Report{Layers: []Layer{{Layer: check.L2Smoke, Name: "smoke", State: StateRan, Results: []check.Result{
		{Layer: check.L2Smoke, Check: "logs", Status: check.StatusFail, Message: "m",
			Tables: []check.Table{{Columns: []string{"line"}}, {Columns: []string{"stream", "line"}, Rows: [][]string{{"stderr", "boom"}}}}},
	}}}}
	for _, enc := range []Encoder{Text{}, Markdown{}, HTML{}, JUnit{}} {
		var b bytes.Buffer
		if err := enc.Encode(&b, r); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Contains(out, "0 rows") || strings.Contains(out, "Table (") || strings.Contains(out, "Table  (") {
			t.Errorf("%s shows an empty or untitled table:\n%s", enc.Format(), out)
		}
		if !strings.Contains(out, "Evidence of L2 logs") || !strings.Contains(out, "boom") {
			t.Errorf("%s does not show the untitled table with rows under its check's name:\n%s", enc.Format(), out)
		}
	}
}
