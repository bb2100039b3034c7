package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// chromiumPath is Debian's chromium package; tests that need it fail under CI and skip
// elsewhere when it is missing.
const chromiumPath = "/usr/bin/chromium"

// hostileText is what a hostile image puts in a package name and a log line.
const hostileText = "<script>alert(1)</script>"

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if testenv.Required() {
			t.Fatalf("headless Chromium: %v (apt-get install -y chromium)", err)
		}
		t.Skipf("headless Chromium: %v (apt-get install -y chromium)", err)
	}
}

// artifactDir is where a test leaves files for people to look at: under $PLIMSOLL_ARTIFACTS
// when it is set, else in the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("PLIMSOLL_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium runs headless Chromium on a local file or an http:// URL with extra flags (--dump-dom,
// --screenshot=…) and returns its stdout and the page's console messages, which Chromium
// logs to stderr as "…:CONSOLE…] "message", source: …" lines.
func chromium(t *testing.T, page string, flags ...string) (stdout string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, flags...)
	if !strings.HasPrefix(page, "http://") {
		page = "file://" + page
	}
	args = append(args, page)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(flags, " "), err, errb.String())
	}
	for _, line := range strings.Split(errb.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
		}
	}
	return out.String(), console
}

// loadedDOM opens page in Chromium and returns the DOM after its scripts ran; a console
// message fails the test.
func loadedDOM(t *testing.T, page string) *html.Node {
	t.Helper()
	dom, console := chromium(t, page, "--dump-dom")
	for _, c := range console {
		t.Errorf("console: %s", c)
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func eachNode(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		eachNode(c, f)
	}
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func elementByID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	eachNode(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attrOf(n, "id") == id {
			found = n
		}
	})
	return found
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	eachNode(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// checkLoadedReport asserts what every report.html shows once loaded: the decision on top,
// one script (the page's own) and nothing else executable.
func checkLoadedReport(t *testing.T, doc *html.Node, decision string) {
	t.Helper()
	if d := elementByID(doc, "decision"); d == nil || strings.TrimSpace(nodeText(d)) != decision {
		t.Errorf("decision in the DOM is not %s", decision)
	}
	scripts := 0
	eachNode(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" {
			scripts++
		}
	})
	if scripts != 1 {
		t.Errorf("%d script elements in the DOM, want the page's own one", scripts)
	}
}

// hostileReport is a NO-GO report whose L1 results carry Data as the real checks build it,
// with a hostile package name, vulnerable package and log line.
func hostileReport() *report.Report {
	intro := []scan.Finding{
		{ID: "CVE-2024-5535", Severity: scan.Critical, Package: "libssl3", Version: "3.3.2-r0", Type: "apk"},
		{ID: "CVE-2024-6119", Severity: scan.High, Package: hostileText, Version: "1.0", Type: "apk", FixedIn: "1.1"},
		{ID: "CVE-2024-9143", Severity: scan.Medium, Package: "libcrypto3", Version: "3.3.2-r0", Type: "apk"},
	}
	fixed := []scan.Finding{{ID: "CVE-2023-0464", Severity: scan.High, Package: "libssl3", Version: "3.1.7-r0", Type: "apk"}}
	delta := scan.VulnDelta{Introduced: intro, Fixed: fixed, IntroducedCounts: scan.CountSeverities(intro), FixedCounts: scan.CountSeverities(fixed)}
	diff := scan.PackageDiff{
		Added:    []scan.PackageChange{{Name: hostileText, Type: "apk", NewVersion: "1.0", Kind: scan.Added}},
		Removed:  []scan.PackageChange{{Name: "scanelf", Type: "apk", OldVersion: "1.3.7-r2", Kind: scan.Removed}},
		Upgraded: []scan.PackageChange{{Name: "musl", Type: "apk", OldVersion: "1.2.4-r4", NewVersion: "1.2.5-r0", Kind: scan.Upgraded, Critical: "libc"}, {Name: "zlib", Type: "apk", OldVersion: "1.3.1-r0", NewVersion: "1.3.1-r1", Kind: scan.Upgraded}},
		Renamed:  []scan.PackageChange{{Name: "libssl3", OldName: "libssl1.1", Type: "apk", OldVersion: "1.1.1w-r1", NewVersion: "3.3.2-r0", Kind: scan.Renamed, Critical: "openssl"}},
	}
	results := []check.Result{
		{Layer: check.L1Diff, Check: "packages", Status: check.StatusWarn, Message: "unexpected removal: scanelf", Data: diff},
		{Layer: check.L1Diff, Check: "vulnerabilities", Status: check.StatusFail, Message: "2 new at or above high",
			Tables: []check.Table{{Title: "Introduced vulnerabilities", Columns: []string{"id", "severity", "package"},
				Rows: [][]string{{"CVE-2024-5535", "critical", "libssl3"}, {"CVE-2024-6119", "high", hostileText}}}},
			Data: map[string]any{"delta": delta, "ignored": []scan.Finding{}}},
		{Layer: check.L2Smoke, Check: "logs", Status: check.StatusPass, Message: "logged " + hostileText,
			Tables: []check.Table{{Title: "Log lines", Columns: []string{"stream", "line"}, Rows: [][]string{{"stderr", hostileText}}}}},
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion, Tool: report.Tool{Name: "plimsoll", Version: "e2e"}, RunID: "e2e-hostile",
		Old:  &report.Subject{Ref: "alpine:3.19.4", Transport: "docker", Digest: "sha256:aaaa"},
		New:  report.Subject{Ref: "alpine:3.20.3" + hostileText, Transport: "docker", Digest: "sha256:bbbb"},
		Plan: report.Plan{Kind: "distro", Risk: "high", Layers: []check.Layer{check.L1Diff, check.L2Smoke}, Reasons: []string{hostileText}},
		Layers: []report.Layer{
			{Layer: check.L1Diff, Name: "diff", State: report.StateRan, Status: check.StatusFail, Results: results[:2]},
			{Layer: check.L2Smoke, Name: "smoke", State: report.StateRan, Status: check.StatusPass, Results: results[2:]},
		},
	}
	r.Verdict = verdict.Decide(verdict.Policy{Required: []check.Layer{check.L1Diff}}, []verdict.LayerRun{{Layer: check.L1Diff, Ran: true}, {Layer: check.L2Smoke, Ran: true}}, results)
	return r
}

// TestHTMLReportInChromium opens report.html in a real headless Chromium: it loads with no
// console message, the verdict and the vulnerability chart are in the DOM, hostile strings are
// text, clicking a header sorts the package diff, and a screenshot is left as an artifact.
func TestHTMLReportInChromium(t *testing.T) {
	needChromium(t)
	dir := artifactDir(t)
	r := hostileReport()
	if r.Verdict.Decision != verdict.NoGo {
		t.Fatalf("fixture decision %s, want NO-GO", r.Verdict.Decision)
	}
	if _, err := report.WriteDir(dir, r); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	doc := loadedDOM(t, page)
	checkLoadedReport(t, doc, "NO-GO")
	svg := elementByID(doc, "vuln-chart")
	if svg == nil || svg.Data != "svg" {
		t.Fatal("no SVG vulnerability chart in the DOM")
	}
	bars := 0
	eachNode(svg, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "rect" && attrOf(n, "data-kind") != "" {
			bars++
		}
	})
	if bars != 18 {
		t.Errorf("%d bars in the chart, want 18", bars)
	}
	// The hostile strings are text in cells, headings and the title; never elements.
	cells := 0
	eachNode(doc, func(n *html.Node) {
		if n.Type == html.TextNode && strings.Contains(n.Data, hostileText) && n.Parent.Data == "td" {
			cells++
		}
	})
	if cells < 3 {
		t.Errorf("hostile string in %d cells as text, want at least 3 (package diff, vulnerability table, log line)", cells)
	}
	if !strings.Contains(nodeText(elementByID(doc, "images")), "alpine:3.20.3"+hostileText) {
		t.Errorf("hostile image reference not shown as text")
	}

	// Sorting: click the "package" header of the package diff once (ascending) and twice
	// (descending), through a script appended to a copy of the page.
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		clicks int
		want   []string
	}{
		{1, []string{hostileText, "libssl3", "musl", "scanelf", "zlib"}},
		{2, []string{"zlib", "scanelf", "musl", "libssl3", hostileText}},
	} {
		click := strings.Repeat(`document.querySelectorAll("#package-diff th")[1].click();`, tc.clicks)
		sorted := filepath.Join(t.TempDir(), "sorted.html")
		body := strings.Replace(string(src), "</body>", "<script>"+click+"</script></body>", 1)
		if err := os.WriteFile(sorted, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, console := chromium(t, sorted, "--dump-dom")
		for _, c := range console {
			t.Errorf("console: %s", c)
		}
		d, err := html.Parse(strings.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		eachNode(elementByID(d, "package-diff"), func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "tr" && n.Parent.Data == "tbody" {
				var tds []*html.Node
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode {
						tds = append(tds, c)
					}
				}
				got = append(got, nodeText(tds[1]))
			}
		})
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("after %d clicks: %q, want %q", tc.clicks, got, tc.want)
		}
	}

	shot := filepath.Join(dir, "report.png")
	if _, console := chromium(t, page, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars"); len(console) > 0 {
		t.Errorf("console: %v", console)
	}
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	t.Logf("report and screenshot in %s", dir)
}
