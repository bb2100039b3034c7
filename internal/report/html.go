package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// HTML writes report.html: one self-contained page (inline CSS and JavaScript, nothing fetched
// when it is viewed) with the verdict on top, the plan, a row per layer and check, a chart or
// view for every result whose Data has a shape a renderer knows (see dataRenderers), and every
// Table of every result as a table sortable by clicking its headers. Every string of the report
// goes through html/template, so text from images, logs and test output is always text.
type HTML struct{}

// Format is "html".
func (HTML) Format() string { return "html" }

// Filename is "report.html".
func (HTML) Filename() string { return "report.html" }

// Encode writes r as one HTML page.
func (HTML) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return ErrNilReport
	}
	v := htmlPage(r)
	var buf bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&buf, "page", v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// htmlView is what the page template shows; every string in it is already cleaned.
type htmlView struct {
	Title, Decision, DecisionClass, Summary string
	Reasons                                 []htmlReason
	Subjects                                []htmlSubject
	Tool, RunID, Started, Finished, Elapsed string
	Plan                                    htmlPlan
	Rows                                    []htmlRow
	Results                                 []htmlResult
}

type htmlReason struct {
	Where, Status, Message string
	Evidence               [][2]string
}

type htmlSubject struct{ Role, Ref, Name, Transport, Digest string }

type htmlPlan struct {
	Line, Layers, Budget, Promotion string
	Reasons                         []string
}

// htmlRow is one row of the layer table: a check's result, or a layer that did not run.
type htmlRow struct {
	Layer, Check, Status, State, Measured, Baseline, Threshold, Source, Why string
	Anchor                                                                  string
}

// htmlResult is one result's section: its message, its charts and its tables.
type htmlResult struct {
	Name, Anchor, Status, Message string
	Views                         []template.HTML
	Tables                        []check.Table
}

func htmlPage(r *Report) htmlView {
	v := htmlView{
		Title:         "plimsoll: " + subjects(r),
		Decision:      decisionLabel(r),
		DecisionClass: decisionClass(r.Verdict.Decision),
		Summary:       cleanBlock(r.Verdict.Summary),
		Tool:          strings.TrimSpace(cleanLine(r.Tool.Name) + " " + cleanLine(r.Tool.Version)),
		RunID:         cleanLine(r.RunID),
		Plan: htmlPlan{
			Line: planLine(r), Layers: layerList(r.Plan.Layers), Promotion: cleanLine(r.Plan.Promotion),
		},
	}
	if !r.StartedAt.IsZero() {
		v.Started = r.StartedAt.Format(time.RFC3339Nano)
	}
	if !r.FinishedAt.IsZero() {
		v.Finished = r.FinishedAt.Format(time.RFC3339Nano)
		if !r.StartedAt.IsZero() {
			v.Elapsed = fmtDuration(Duration(r.FinishedAt.Sub(r.StartedAt)))
		}
	}
	if r.Plan.Budget > 0 {
		v.Plan.Budget = fmtDuration(r.Plan.Budget)
	}
	for _, s := range r.Plan.Reasons {
		v.Plan.Reasons = append(v.Plan.Reasons, cleanLine(s))
	}
	for _, rs := range r.Verdict.Reasons {
		v.Reasons = append(v.Reasons, htmlReasonOf(rs))
	}
	if r.Old != nil {
		v.Subjects = append(v.Subjects, htmlSubjectOf("old", r.Old))
	}
	v.Subjects = append(v.Subjects, htmlSubjectOf("new", &r.New))
	n := 0
	for _, l := range r.Layers {
		if l.State != StateRan || len(l.Results) == 0 {
			why := cleanLine(l.Why)
			if l.State == StateRan {
				why = "no checks"
			}
			v.Rows = append(v.Rows, htmlRow{Layer: layerLabel(l), Status: l.Status.String(), State: cleanLine(l.State), Why: why})
			continue
		}
		for _, res := range l.Results {
			n++
			anchor := fmt.Sprintf("r%d", n)
			v.Rows = append(v.Rows, htmlRow{
				Layer: layerLabel(l), Check: cleanLine(res.Check), Status: res.Status.String(), State: StateRan,
				Measured: cleanLine(res.Measured), Baseline: cleanLine(res.Baseline), Threshold: cleanLine(res.Threshold),
				Source: cleanLine(res.Source), Why: cleanLine(res.Message), Anchor: anchor,
			})
			v.Results = append(v.Results, htmlResultOf(res, anchor))
		}
	}
	return v
}

func htmlReasonOf(rs verdict.Reason) htmlReason {
	h := htmlReason{Status: rs.Status.String(), Message: cleanBlock(rs.Message),
		Evidence: evidence(rs.Measured, rs.Baseline, rs.Threshold, rs.Source)}
	if rs.Layer != 0 {
		h.Where = fmt.Sprintf("L%d %s", int(rs.Layer), cleanLine(rs.Check))
	}
	return h
}

func htmlSubjectOf(role string, s *Subject) htmlSubject {
	return htmlSubject{Role: role, Ref: cleanLine(s.Ref), Name: cleanLine(s.Name), Transport: cleanLine(s.Transport), Digest: cleanLine(s.Digest)}
}

func htmlResultOf(res check.Result, anchor string) htmlResult {
	h := htmlResult{Name: resultName(res), Anchor: anchor, Status: res.Status.String(), Message: cleanBlock(res.Message)}
	if render, ok := dataRenderers[rendererKey{res.Layer, res.Check}]; ok && res.Data != nil {
		h.Views = render(res.Data)
	}
	for _, t := range shownTables(res) {
		h.Tables = append(h.Tables, cleanTable(t))
	}
	return h
}

// cleanTable returns t with every cell cleaned and every row as wide as the widest.
func cleanTable(t check.Table) check.Table {
	ncol := len(t.Columns)
	for _, row := range t.Rows {
		ncol = max(ncol, len(row))
	}
	out := check.Table{Title: cleanLine(t.Title), Columns: fitRow(t.Columns, ncol, 0)}
	for _, row := range t.Rows {
		out.Rows = append(out.Rows, fitRow(row, ncol, 0))
	}
	return out
}

func decisionClass(d verdict.Decision) string {
	switch d {
	case verdict.Go:
		return "go"
	case verdict.Caution:
		return "caution"
	case verdict.NoGo:
		return "nogo"
	case verdict.Error:
		return "error"
	}
	return "none"
}

// rendererKey names the results a data renderer draws: a layer and a check name.
type rendererKey struct {
	layer check.Layer
	check string
}

// dataRenderers draw a result's Data when it has a shape they know. A renderer returns no
// views for Data of another shape (a report read back from JSON of an older version, or a
// check that changed its Data), and the result then shows its Tables only, as every result
// without a renderer does.
var dataRenderers = map[rendererKey]func(data any) []template.HTML{
	{check.L1Diff, "packages"}:        packageDiffViews,
	{check.L1Diff, "vulnerabilities"}: vulnDeltaViews,
	{check.L4Perf, "cold-start"}:      perfViews("cold-start"),
	{check.L4Perf, "latency-p95"}:     perfViews("latency-p95"),
	{check.L4Perf, "throughput"}:      perfViews("throughput"),
	{check.L4Perf, "rss"}:             perfViews("rss"),
	{check.L4Perf, "cpu-per-request"}: perfViews("cpu-per-request"),
	{check.L4Perf, "gc-pause"}:        perfViews("gc-pause"),
	{check.L6Soak, "memory"}:          soakViews("memory"),
	{check.L6Soak, "fds"}:             soakViews("fds"),
	{check.L6Soak, "connections"}:     soakViews("connections"),
	{check.L6Soak, "cpu"}:             soakViews("cpu"),
	{check.L6Soak, "health"}:          soakViews("health"),
	{check.L6Soak, "errors"}:          soakViews("errors"),
}

// decodeData reads data (a typed value, or the generic value a report read from JSON holds)
// into out, strictly: a field out does not have makes it fail.
func decodeData(data any, out any) bool {
	b, err := json.Marshal(data)
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(out) == nil
}

// packageDiffView is the package diff of the packages check as one sortable table.
type packageDiffView struct {
	Counts  string
	Columns []string
	Rows    [][]string
}

func packageDiffViews(data any) []template.HTML {
	var d scan.PackageDiff
	if !decodeData(data, &d) {
		return nil
	}
	v := packageDiffView{
		Counts: fmt.Sprintf("%d added, %d removed, %d upgraded, %d downgraded, %d renamed, %d unchanged",
			len(d.Added), len(d.Removed), len(d.Upgraded), len(d.Downgraded), len(d.Renamed), d.Unchanged),
		Columns: []string{"change", "package", "type", "old version", "new version", "was", "critical"},
	}
	for _, list := range [][]scan.PackageChange{d.Removed, d.Downgraded, d.Upgraded, d.Renamed, d.Added} {
		for _, c := range list {
			v.Rows = append(v.Rows, fitRow([]string{string(c.Kind), c.Name, c.Type, c.OldVersion, c.NewVersion, c.OldName, c.Critical}, 7, 0))
		}
	}
	return renderView("packagediff", v)
}

// vulnChart is the vulnerability delta as grouped bars: one group per severity, one bar each
// for introduced, fixed and persisting findings.
type vulnChart struct {
	Width, Height, Base int
	Groups              []vulnGroup
	Legend              []vulnBar
	Ticks               []vulnTick
	Total               string
}

type vulnGroup struct {
	Label  string
	X      int
	Bars   []vulnBar
	LabelX int
}

type vulnBar struct {
	Kind, Class, Title string
	Count, X, Y, W, H  int
}

type vulnTick struct {
	Y     int
	Label string
}

func vulnDeltaViews(data any) []template.HTML {
	var wrapper struct {
		Delta   *scan.VulnDelta `json:"delta"`
		Ignored json.RawMessage `json:"ignored"`
	}
	if !decodeData(data, &wrapper) || wrapper.Delta == nil {
		return nil
	}
	return renderView("vulnchart", vulnChartOf(wrapper.Delta))
}

// Geometry of the vulnerability chart, in SVG user units.
const (
	chartTop, chartBase, chartLeft = 24, 200, 40
	barWidth, barGap, groupGap     = 22, 4, 28
)

func vulnChartOf(d *scan.VulnDelta) vulnChart {
	sev := []string{"critical", "high", "medium", "low", "negligible", "unknown"}
	counts := func(c scan.SeverityCounts) []int {
		return []int{c.Critical, c.High, c.Medium, c.Low, c.Negligible, c.Unknown}
	}
	kinds := []struct {
		name, class string
		n           []int
	}{
		{"introduced", "intro", counts(d.IntroducedCounts)},
		{"fixed", "fixed", counts(d.FixedCounts)},
		{"persisting", "persist", counts(d.PersistingCounts)},
	}
	most := 1
	for _, k := range kinds {
		for _, n := range k.n {
			most = max(most, n)
		}
	}
	height := chartBase - chartTop
	groupW := len(kinds)*barWidth + (len(kinds)-1)*barGap
	c := vulnChart{Base: chartBase, Height: chartBase + 48,
		Width: chartLeft + len(sev)*(groupW+groupGap) + groupGap}
	for i, s := range sev {
		g := vulnGroup{Label: s, X: chartLeft + groupGap + i*(groupW+groupGap)}
		g.LabelX = g.X + groupW/2
		for j, k := range kinds {
			h := k.n[i] * height / most
			if k.n[i] > 0 {
				h = max(h, 2)
			}
			g.Bars = append(g.Bars, vulnBar{Kind: k.name, Class: k.class, Count: k.n[i],
				Title: fmt.Sprintf("%d %s %s", k.n[i], k.name, s),
				X:     g.X + j*(barWidth+barGap), Y: chartBase - h, W: barWidth, H: h})
		}
		c.Groups = append(c.Groups, g)
	}
	for j, k := range kinds {
		total := 0
		for _, n := range k.n {
			total += n
		}
		c.Legend = append(c.Legend, vulnBar{Kind: k.name, Class: k.class, Count: total, X: chartLeft + groupGap + j*150, Y: chartBase + 30})
	}
	for _, n := range []int{0, most / 2, most} {
		if len(c.Ticks) > 0 && c.Ticks[len(c.Ticks)-1].Label == fmt.Sprint(n) {
			continue
		}
		c.Ticks = append(c.Ticks, vulnTick{Y: chartBase - n*height/most, Label: fmt.Sprint(n)})
	}
	c.Total = fmt.Sprintf("%d introduced, %d fixed, %d persisting", len(d.Introduced), len(d.Fixed), len(d.Persisting))
	return c
}

// renderView executes one of the view templates; html/template escapes everything it writes.
func renderView(name string, data any) []template.HTML {
	var b bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return nil
	}
	return []template.HTML{template.HTML(b.String())} //nolint:gosec // the output of html/template
}

var htmlTemplates = template.Must(template.New("report").Parse(htmlSource))

// htmlSource holds the templates: the page, the sortable table and the data views. The
// script sorts any table of class "sortable" by the clicked header, numbers and versions in
// natural order.
const htmlSource = `
{{- define "page" -}}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:20px;margin:0}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:20px 0 6px}
.verdict{padding:18px 24px;color:#fff}
.verdict .decision{font-size:34px;font-weight:700;letter-spacing:.02em}
.verdict.go{background:#1a7f37}.verdict.caution{background:#9a6700}.verdict.nogo{background:#cf222e}
.verdict.error{background:#6e40c9}.verdict.none{background:#57606a}
.verdict .summary{white-space:pre-wrap;margin-top:4px}
.scroll{overflow-x:auto;margin:6px 0 12px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th,td.name{white-space:nowrap}
#checks td{min-width:6em}#checks td.name,#checks td.status{min-width:0}
.summary,#reasons,p.msg{overflow-wrap:anywhere}
svg.chart{max-width:100%;height:auto}
@media (max-width:600px){main{padding:12px 12px 32px}.verdict{padding:12px}.verdict .decision{font-size:28px}}
th{background:#eaeef2}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}
table.sortable th[aria-sort=descending]::after{content:" \25BC"}
.status{font-weight:600;white-space:nowrap}
.s-pass{color:#1a7f37}.s-warn,.s-inconclusive{color:#9a6700}.s-fail{color:#cf222e}.s-error{color:#6e40c9}.s-skipped{color:#57606a}
.msg{white-space:pre-wrap}
.meta td:first-child{width:9em;color:#57606a}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
section.result{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:4px 16px 8px;margin:12px 0}
svg text{font:11px system-ui,sans-serif;fill:#1b1f24}
.intro{fill:#cf222e}.fixed{fill:#1a7f37}.persist{fill:#8c959f}
.muted{color:#57606a}
</style>
</head>
<body>
<header class="verdict {{.DecisionClass}}" id="verdict">
<div class="decision" id="decision">{{.Decision}}</div>
{{- if .Summary}}<div class="summary">{{.Summary}}</div>{{end}}
</header>
<main>
<h1>{{.Title}}</h1>
<p class="muted">{{.Tool}}{{if .RunID}} · run <code>{{.RunID}}</code>{{end}}{{if .Started}} · started {{.Started}}{{end}}{{if .Finished}} · finished {{.Finished}}{{end}}{{if .Elapsed}} ({{.Elapsed}}){{end}}</p>
{{- if .Reasons}}
<h2>Why</h2>
<ul id="reasons">
{{- range .Reasons}}
<li><span class="status s-{{.Status}}">{{.Status}}</span>{{if .Where}} <strong>{{.Where}}</strong>:{{end}} <span class="msg">{{.Message}}</span>
{{- range .Evidence}}<br><span class="muted">{{index . 0}}:</span> {{index . 1}}{{end}}</li>
{{- end}}
</ul>
{{- end}}
<h2>Images</h2>
<div class="scroll"><table id="images">
<thead><tr><th></th><th>reference</th><th>name</th><th>transport</th><th>digest</th></tr></thead>
<tbody>
{{- range .Subjects}}
<tr><td>{{.Role}}</td><td>{{.Ref}}</td><td>{{.Name}}</td><td>{{.Transport}}</td><td><code>{{.Digest}}</code></td></tr>
{{- end}}
</tbody>
</table></div>
<h2>Plan</h2>
<div class="scroll"><table class="meta" id="plan">
{{- if .Plan.Line}}<tr><td>upgrade</td><td>{{.Plan.Line}}</td></tr>{{end}}
{{- if .Plan.Layers}}<tr><td>layers</td><td>{{.Plan.Layers}}</td></tr>{{end}}
{{- if .Plan.Budget}}<tr><td>budget</td><td>{{.Plan.Budget}}</td></tr>{{end}}
{{- if .Plan.Promotion}}<tr><td>promotion</td><td>{{.Plan.Promotion}}</td></tr>{{end}}
{{- range .Plan.Reasons}}<tr><td>because</td><td>{{.}}</td></tr>{{end}}
</table></div>
<h2>Layers and checks</h2>
<div class="scroll"><table class="sortable" id="checks">
<thead><tr><th>layer</th><th>check</th><th>status</th><th>measured</th><th>baseline</th><th>threshold</th><th>source</th><th>why</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="name">{{.Layer}}</td><td class="name">{{if .Anchor}}<a href="#{{.Anchor}}">{{.Check}}</a>{{else}}<span class="muted">{{.State}}</span>{{end}}</td><td class="status s-{{.Status}}">{{.Status}}</td><td>{{.Measured}}</td><td>{{.Baseline}}</td><td>{{.Threshold}}</td><td>{{.Source}}</td><td class="msg">{{.Why}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- if .Results}}
<h2>Evidence</h2>
{{- range .Results}}
<section class="result" id="{{.Anchor}}">
<h3>{{.Name}} <span class="status s-{{.Status}}">{{.Status}}</span></h3>
{{- if .Message}}<p class="msg">{{.Message}}</p>{{end}}
{{- range .Views}}
{{.}}
{{- end}}
{{- range .Tables}}
{{template "table" .}}
{{- end}}
</section>
{{- end}}
{{- end}}
</main>
<script>
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col] ? a.cells[col].textContent : "";
      var y = b.cells[col] ? b.cells[col].textContent : "";
      return asc ? collator.compare(x, y) : collator.compare(y, x);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.title = "sort";
      th.addEventListener("click", function () { sortBy(table, col, th); });
    });
  });
})();
</script>
</body>
</html>
{{end}}

{{- define "table" -}}
{{- if .Title}}<h4>{{.Title}}</h4>{{end}}
<div class="scroll"><table class="sortable evidence">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
{{- end}}

{{- define "packagediff" -}}
<h4>Package diff</h4>
<p class="muted">{{.Counts}}</p>
<div class="scroll"><table class="sortable packagediff" id="package-diff">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
{{- end}}

{{- define "vulnchart" -}}
<h4>Vulnerability delta by severity</h4>
<p class="muted">{{.Total}}</p>
<svg class="chart vulnchart" id="vuln-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="vulnerability delta by severity: {{.Total}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{- range .Legend}}
<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="10" height="10"></rect><text x="{{.X}}" y="{{.Y}}" dx="14" dy="9">{{.Kind}} ({{.Count}})</text>
{{- end}}
{{- range .Ticks}}
<line x1="36" x2="{{$.Width}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#d0d7de"></line><text x="30" y="{{.Y}}" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .Groups}}
{{- range .Bars}}
<rect class="bar {{.Class}}" data-kind="{{.Kind}}" data-count="{{.Count}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{- if .Count}}<text x="{{.X}}" y="{{.Y}}" dx="11" dy="-3" text-anchor="middle">{{.Count}}</text>{{end}}
{{- end}}
<text x="{{.LabelX}}" y="{{$.Base}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{- end}}
</svg>
{{- end}}
`
