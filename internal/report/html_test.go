package report

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/scan"
)

// hostileName is what a hostile image puts in a package name and a log line.
const hostileName = "<script>alert(1)</script>"

// dataFixture is a NO-GO report whose L1 results carry Data as the real checks build it (a
// scan.PackageDiff, a scan.VulnDelta under "delta"), with a hostile package name and a hostile
// log line in an L2 table.
func dataFixture() *Report {
	r := noGoDistro()
	r.RunID = "20240912T110000Z-d47a11"
	intro := []scan.Finding{
		{ID: "CVE-2024-5535", Severity: scan.Critical, Package: "libssl3", Version: "3.3.2-r0", Type: "apk", Source: "alpine:distro:alpine:3.20"},
		{ID: "CVE-2024-6119", Severity: scan.High, Package: "libcrypto3", Version: "3.3.2-r0", Type: "apk", FixedIn: "3.3.2-r1"},
		{ID: "CVE-2024-6119", Severity: scan.High, Package: "libssl3", Version: "3.3.2-r0", Type: "apk", FixedIn: "3.3.2-r1"},
		{ID: "GHSA-xxxx-yyyy-zzzz", Aliases: []string{"CVE-2024-0001"}, Severity: scan.Medium, Package: hostileName, Version: "1.0", Type: "npm"},
		{ID: "CVE-2024-9143", Severity: scan.Low, Package: "libcrypto3", Version: "3.3.2-r0", Type: "apk", FixedIn: "3.3.2-r2"},
	}
	fixed := []scan.Finding{{ID: "CVE-2023-0464", Severity: scan.High, Package: "libssl3", Version: "3.1.7-r0", Type: "apk"}}
	persisting := []scan.Finding{{ID: "CVE-2019-0001", Severity: scan.Negligible, Package: "busybox", Version: "1.36.1-r29", Type: "apk"}}
	delta := scan.VulnDelta{Introduced: intro, Fixed: fixed, Persisting: persisting,
		IntroducedCounts: scan.CountSeverities(intro), FixedCounts: scan.CountSeverities(fixed), PersistingCounts: scan.CountSeverities(persisting)}
	diff := scan.PackageDiff{
		Added:     []scan.PackageChange{{Name: hostileName, Type: "apk", NewVersion: "1.0", Kind: scan.Added}},
		Removed:   []scan.PackageChange{{Name: "scanelf", Type: "apk", OldVersion: "1.3.7-r2", Kind: scan.Removed}},
		Upgraded:  []scan.PackageChange{{Name: "musl", Type: "apk", OldVersion: "1.2.4_git20230717-r4", NewVersion: "1.2.5-r0", Kind: scan.Upgraded, Critical: "libc"}, {Name: "zlib", Type: "apk", OldVersion: "1.3.1-r0", NewVersion: "1.3.1-r1", Kind: scan.Upgraded}},
		Renamed:   []scan.PackageChange{{Name: "libssl3", OldName: "libssl1.1", Type: "apk", OldVersion: "1.1.1w-r1", NewVersion: "3.3.2-r0", Kind: scan.Renamed, Critical: "openssl"}},
		Unchanged: 11,
	}
	for i := range r.Layers {
		l := &r.Layers[i]
		if l.Layer != check.L1Diff {
			continue
		}
		for j := range l.Results {
			switch l.Results[j].Check {
			case "packages":
				l.Results[j].Data = diff
			case "vulnerabilities":
				l.Results[j].Data = map[string]any{"delta": delta, "ignored": []scan.Finding{}}
			}
		}
	}
	for i := range r.Layers {
		if r.Layers[i].Layer == check.L2Smoke {
			r.Layers[i] = Layer{Layer: check.L2Smoke, Name: "smoke", State: StateRan, Status: check.StatusPass,
				Duration: Duration(3 * time.Second),
				Results: []check.Result{{Layer: check.L2Smoke, Check: "logs", Status: check.StatusPass, Message: "no error lines",
					Tables: []check.Table{{Title: "Log lines", Columns: []string{"stream", "line"},
						Rows: [][]string{{"stdout", "listening on :8080"}, {"stderr", hostileName}}}}}}}
		}
	}
	decide(r, []check.Layer{check.L1Diff})
	return r
}

func encodeHTML(t testing.TB, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := (HTML{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func parseHTML(t testing.TB, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// walk calls f on every node under n.
func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if v, ok := attr(n, "id"); ok && v == id && found == nil {
			found = n
		}
	})
	return found
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// checkHTMLSafe asserts that the page holds one script, its own, no handler attributes, no
// javascript: links and nothing fetched from elsewhere.
func checkHTMLSafe(t testing.TB, page string) *html.Node {
	t.Helper()
	doc := parseHTML(t, page)
	scripts := 0
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			scripts++
			if _, ok := attr(n, "src"); ok {
				t.Errorf("script with src")
			}
		case "link", "iframe", "object", "embed", "img", "style":
			if n.Data != "style" {
				t.Errorf("element <%s> in the page", n.Data)
			}
		}
		for _, a := range n.Attr {
			k, v := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s %s=%q>: event handler attribute", n.Data, a.Key, a.Val)
			}
			if (k == "href" || k == "src" || k == "xlink:href") && !strings.HasPrefix(v, "#") {
				t.Errorf("<%s %s=%q>: points outside the page", n.Data, a.Key, a.Val)
			}
		}
	})
	if scripts != 1 {
		t.Errorf("%d script elements, want the page's own one", scripts)
	}
	return doc
}

// TestHTMLGoldenWithData pins report.html and vulnerabilities.sarif of a report whose L1
// results carry real Data.
func TestHTMLGoldenWithData(t *testing.T) {
	r := dataFixture()
	for _, e := range []Encoder{HTML{}, SARIF{}} {
		var b bytes.Buffer
		if err := e.Encode(&b, r); err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "l1-data", e.Filename()), redact(b.String(), r))
	}
}

func TestHTMLStructure(t *testing.T) {
	r := dataFixture()
	doc := checkHTMLSafe(t, encodeHTML(t, r))
	if v := byID(doc, "verdict"); v == nil || !strings.Contains(textOf(v), "NO-GO") {
		t.Fatalf("no verdict NO-GO at the top")
	} else if c, _ := attr(v, "class"); c != "verdict nogo" {
		t.Errorf("verdict class %q", c)
	}
	// The chart: one bar per kind and severity, each as tall as its count says.
	svg := byID(doc, "vuln-chart")
	if svg == nil || svg.Data != "svg" {
		t.Fatalf("no SVG vulnerability chart")
	}
	want := map[string]int{"introduced": 5, "fixed": 1, "persisting": 1}
	got := map[string]int{}
	bars := 0
	walk(svg, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "rect" {
			return
		}
		kind, ok := attr(n, "data-kind")
		if !ok {
			return
		}
		bars++
		c, _ := attr(n, "data-count")
		h, _ := attr(n, "height")
		var count, height int
		if err := json.Unmarshal([]byte(c), &count); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(h), &height); err != nil {
			t.Fatal(err)
		}
		if (count == 0) != (height == 0) {
			t.Errorf("%s bar of count %d has height %d", kind, count, height)
		}
		got[kind] += count
	})
	if bars != 18 {
		t.Errorf("%d bars, want 3 kinds × 6 severities", bars)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d in the chart, want %d", k, got[k], n)
		}
	}
	// The package diff: a sortable table with a row per change.
	pd := byID(doc, "package-diff")
	if pd == nil {
		t.Fatal("no package diff table")
	}
	if c, _ := attr(pd, "class"); !strings.Contains(c, "sortable") {
		t.Errorf("package diff class %q", c)
	}
	rows := 0
	walk(pd, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			rows++
		}
	})
	if rows != 1+5 {
		t.Errorf("package diff has %d rows, want a header and 5 changes", rows)
	}
	// A row per check in the layer table, and every Table of every result.
	checks := byID(doc, "checks")
	for _, s := range []string{"packages", "config", "vulnerabilities", "logs", "not available in this build of plimsoll"} {
		if !strings.Contains(textOf(checks), s) {
			t.Errorf("layer table lacks %q", s)
		}
	}
	page := textOf(doc)
	for _, s := range []string{"Package changes", "Introduced vulnerabilities", "Log lines", "listening on :8080", digestOld, digestNew, "os-release alpine 3.19.4→3.20.3"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// The hostile package name and log line are text, each in its table cell.
	n := 0
	walk(doc, func(c *html.Node) {
		if c.Type == html.TextNode && strings.Contains(c.Data, hostileName) && c.Parent != nil && c.Parent.Data == "td" {
			n++
		}
	})
	if n != 2 {
		t.Errorf("hostile string in %d table cells as text, want 2 (package diff, log line)", n)
	}
}

// TestHTMLReadsDataBackFromJSON: a report read back from summary.json (Data as generic maps)
// draws the same page as the report the gate built.
func TestHTMLReadsDataBackFromJSON(t *testing.T) {
	r := dataFixture()
	var b bytes.Buffer
	if err := (JSON{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if got, want := encodeHTML(t, &back), encodeHTML(t, r); got != want {
		t.Errorf("page from JSON differs from the page of the report")
	}
}

// TestHTMLFallsBackToTables: Data of a shape no renderer knows draws no chart, and the
// result's tables are still there.
func TestHTMLFallsBackToTables(t *testing.T) {
	for _, data := range []any{
		map[string]any{"fixed": 2, "introduced": 0, "persisting": 1}, // goPatch's
		map[string]any{"delta": "not a delta"},
		[]int{1, 2, 3},
	} {
		r := goPatch()
		r.Layers[0].Results[2].Data = data
		r.Layers[0].Results[0].Data = data
		doc := checkHTMLSafe(t, encodeHTML(t, r))
		if byID(doc, "vuln-chart") != nil || byID(doc, "package-diff") != nil {
			t.Errorf("Data %v drew a chart", data)
		}
		if s := textOf(doc); !strings.Contains(s, "Fixed vulnerabilities") || !strings.Contains(s, "CVE-2024-6119") {
			t.Errorf("Data %v: the result's table is missing", data)
		}
	}
}

func TestHTMLHostileStrings(t *testing.T) {
	for _, long := range []int{0, 5000} {
		page := encodeHTML(t, hostileReport(hostile, long))
		doc := checkHTMLSafe(t, page)
		if !strings.Contains(textOf(doc), hostileName) {
			t.Errorf("hostile markup is not shown as text")
		}
		if strings.ContainsFunc(page, func(r rune) bool { return r != '\n' && r != '\t' && dropped(r) }) {
			t.Errorf("page passes control characters through")
		}
	}
}

func TestHTMLFirstDeploymentAndErrors(t *testing.T) {
	doc := checkHTMLSafe(t, encodeHTML(t, firstDeployError()))
	if v := byID(doc, "decision"); v == nil || textOf(v) != "ERROR" {
		t.Errorf("decision is not ERROR")
	}
	if s := textOf(byID(doc, "images")); strings.Contains(s, "old") {
		t.Errorf("a first deployment shows an old image: %q", s)
	}
	if s := textOf(byID(doc, "reasons")); !strings.Contains(s, "vulndb update") {
		t.Errorf("reasons lack the error: %q", s)
	}
}

// FuzzHTML puts arbitrary text into every string of a report: the page must encode, and hold
// only its own script, no handlers and no links out.
func FuzzHTML(f *testing.F) {
	for _, s := range []string{hostile, "", hostileName, "</svg><script>", "\"' onload=x", "javascript:alert(1)", "]]>", "\xff", "{{.}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := hostileReport(s, 0)
		r.Layers[0].Results[0].Check = "packages"
		r.Layers[0].Results[0].Data = scan.PackageDiff{Added: []scan.PackageChange{{Name: s, Type: s, NewVersion: s, Kind: scan.ChangeKind(s)}}}
		checkHTMLSafe(t, encodeHTML(t, r))
	})
}

// TestHTMLPerfCharts: a Layer 4 result whose Data holds both images' rounds (as perf.Data is
// written, and as it reads back from JSON) is drawn as two distributions and two median bars;
// Data that is not such a series draws nothing.
func TestHTMLPerfCharts(t *testing.T) {
	series := func(old, new []float64) any {
		return map[string]any{"series": map[string]any{"metric": 1, "unit": "ms", "old": old, "new": new,
			"total": len(old), "source": "p95 latency"}, "over_threshold": false}
	}
	r := goPatch()
	r.Layers = append(r.Layers, Layer{Layer: check.L4Perf, Name: "perf", State: StateRan, Status: check.StatusWarn,
		Results: []check.Result{
			{Layer: check.L4Perf, Check: "latency-p95", Status: check.StatusWarn, Data: series([]float64{10, 11, 12, 10.5}, []float64{13, 14, 12.5, 13.5})},
			{Layer: check.L4Perf, Check: "rss", Status: check.StatusPass, Data: series([]float64{20}, nil)},
			{Layer: check.L4Perf, Check: "throughput", Status: check.StatusPass, Data: map[string]any{"series": "no"}},
		}})
	doc := checkHTMLSafe(t, encodeHTML(t, r))
	svg := byID(doc, "perf-latency-p95")
	if svg == nil {
		t.Fatal("no chart of latency-p95")
	}
	lines, heights := 0, map[string]float64{}
	walk(svg, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "polyline":
			pts, _ := attr(n, "points")
			if got := len(strings.Fields(pts)); got != 2+2*4 {
				t.Errorf("distribution has %d points, want 10", got)
			}
			lines++
		case "rect":
			c, _ := attr(n, "class")
			h, _ := attr(n, "height")
			var v float64
			if err := json.Unmarshal([]byte(h), &v); err != nil {
				t.Fatal(err)
			}
			heights[c] = v
		}
	})
	if lines != 2 {
		t.Errorf("%d distributions, want old and new", lines)
	}
	// Medians 10.75 and 13.25 ms: the new bar is the tallest, the old one in proportion.
	if heights["bar new"] <= heights["bar old"] || math.Abs(heights["bar old"]/heights["bar new"]-10.75/13.25) > 0.01 {
		t.Errorf("median bars %v, want old/new = 10.75/13.25", heights)
	}
	if !strings.Contains(textOf(doc), "median of 4 rounds: old 10.75 ms, new 13.25 ms") {
		t.Error("the chart's summary is missing")
	}
	for _, id := range []string{"perf-rss", "perf-throughput"} {
		if byID(doc, id) != nil {
			t.Errorf("%s drawn from Data without both series", id)
		}
	}
}

// TestHTMLSoakCharts: a Layer 6 result whose Data holds each image's series (as soak.ResultData
// is written) is drawn as a line per image, RSS in MiB; a series with a missing value draws
// nothing.
func TestHTMLSoakCharts(t *testing.T) {
	series := func(t []float64, old, new []float64) any {
		return map[string]any{"ticks": len(t), "planned": len(t), "series": map[string]any{
			"old": map[string]any{"t": t, "v": old}, "new": map[string]any{"t": t, "v": new}}}
	}
	mib := float64(1 << 20)
	r := goPatch()
	r.Layers = append(r.Layers, Layer{Layer: check.L6Soak, Name: "soak", State: StateRan, Status: check.StatusFail,
		Results: []check.Result{
			{Layer: check.L6Soak, Check: "memory", Status: check.StatusFail,
				Data: series([]float64{0, 10, 20}, []float64{20 * mib, 20 * mib, 20 * mib}, []float64{20 * mib, 30 * mib, 40 * mib})},
			{Layer: check.L6Soak, Check: "fds", Status: check.StatusPass, Data: series([]float64{0, 10}, []float64{5, 5}, []float64{5})},
		}})
	doc := checkHTMLSafe(t, encodeHTML(t, r))
	svg := byID(doc, "soak-memory")
	if svg == nil {
		t.Fatal("no chart of the soak's memory")
	}
	lines := map[string]int{}
	walk(svg, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "polyline" {
			c, _ := attr(n, "class")
			pts, _ := attr(n, "points")
			lines[c] = len(strings.Fields(pts))
		}
	})
	if lines["series old"] != 3 || lines["series new"] != 3 {
		t.Errorf("lines %v, want old and new with 3 points each", lines)
	}
	if s := textOf(svg); !strings.Contains(s, "new: 40") || !strings.Contains(s, "old: 20") || !strings.Contains(s, "MiB") {
		t.Errorf("chart labels %q: want the last values in MiB", s)
	}
	if byID(doc, "soak-fds") != nil {
		t.Error("a series with a missing value was drawn")
	}
}
