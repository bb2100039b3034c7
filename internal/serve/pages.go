package serve

import (
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

var pages = template.Must(template.New("serve").Funcs(template.FuncMap{
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"lower": strings.ToLower,
	"decisions": func() []verdict.Decision {
		return []verdict.Decision{verdict.Go, verdict.Caution, verdict.NoGo, verdict.Error}
	},
	"repo":   store.Repository,
	"escape": url.QueryEscape,
	"took": func(a, b time.Time) string {
		if b.Before(a) {
			return ""
		}
		return b.Sub(a).Round(time.Second).String()
	},
}).Parse(pageSource))

// pageSource holds the pages: a shared head, the list of runs, the trends of one repository and
// the chart they draw. Nothing is fetched when a page is viewed.
const pageSource = `
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · plimsoll</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#14324a;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;margin-right:16px}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef1f4}code{font-size:12px}
.d{font-weight:600;padding:2px 8px;border-radius:10px;color:#fff;white-space:nowrap}
.d-go{background:#1a7f37}.d-caution{background:#b35900}.d-no-go{background:#c62828}.d-error{background:#5a5f66}
form{margin:0 0 12px}input,select{font:inherit;padding:3px}
svg{background:#fff;border:1px solid #e3e6ea;margin:0 12px 12px 0}
svg .axis{stroke:#9aa3ad}svg text{font-size:11px;fill:#444}svg polyline{fill:none;stroke:#14324a;stroke-width:2}
svg circle{fill:#14324a}svg circle.d-go{fill:#1a7f37}svg circle.d-caution{fill:#b35900}svg circle.d-no-go{fill:#c62828}svg circle.d-error{fill:#5a5f66}
.empty{color:#5a5f66}
</style></head><body>
<header><a href="/"><strong>plimsoll</strong></a><a href="/">Runs</a><a href="/ledger">Patch ledger</a></header><main>
{{end}}

{{define "runs"}}{{template "head" "Runs"}}
<h1>Runs</h1>
<form method="get" action="/">
<label>Image <input name="image" value="{{.Filter.Image}}" placeholder="registry.example.com/shop/api"></label>
<label>Verdict <select name="decision"><option value="">any</option>
{{- range $d := decisions}}<option{{if eq $.Filter.Decision $d}} selected{{end}}>{{$d}}</option>{{end -}}
</select></label>
<button type="submit">Filter</button></form>
{{if .Runs}}<table id="runs"><thead><tr><th>Started</th><th>Verdict</th><th>Old → new</th><th>Plan</th><th>Took</th><th>Summary</th><th>Trend</th></tr></thead><tbody>
{{range .Runs}}<tr>
<td><a href="/runs/{{.ID}}">{{when .StartedAt}}</a></td>
<td><span class="d d-{{lower (print .Decision)}}">{{.Decision}}</span></td>
<td>{{if .OldRef}}<code>{{.OldRef}}</code> → {{end}}<code>{{.NewRef}}</code></td>
<td>{{.PlanKind}}</td><td>{{took .StartedAt .FinishedAt}}</td><td>{{.Summary}}</td>
<td><a href="/trends?image={{escape (repo .NewRef)}}">trend</a></td>
</tr>{{end}}</tbody></table>
{{else}}<p class="empty">No run recorded{{if or .Filter.Image .Filter.Decision}} matches the filter{{end}}.</p>{{end}}
</main></body></html>{{end}}

{{define "trends"}}{{template "head" (print "Trends of " .Trend.Image)}}
<h1>Trends of <code>{{.Trend.Image}}</code></h1>
{{if .Trend.Runs}}<div id="charts">{{range .Charts}}{{.}}{{end}}</div>
<table id="trend"><thead><tr><th>Started</th><th>Version</th><th>Verdict</th><th>p95 (ms)</th><th>RSS (MiB)</th></tr></thead><tbody>
{{range .Trend.Runs}}<tr><td><a href="/runs/{{.RunID}}">{{when .StartedAt}}</a></td><td><code>{{.Version}}</code></td>
<td><span class="d d-{{lower (print .Decision)}}">{{.Decision}}</span></td>
<td>{{with .P95Ms}}{{.}}{{end}}</td><td>{{with .RSSMiB}}{{.}}{{end}}</td></tr>{{end}}
</tbody></table>
{{else}}<p class="empty">No run of this repository is recorded.</p>{{end}}
</main></body></html>{{end}}

{{define "ledger"}}{{template "head" "Patch ledger"}}
<h1>{{.Title}}</h1>
<table id="ledger-summary">{{range .Summary}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{range $i, $s := .Sections}}<h2>{{$s.Title}}</h2>
{{if $s.Rows}}<table id="ledger-{{$i}}"><thead><tr>{{range $s.Head}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $s.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table>
{{else}}<p class="empty">none</p>{{end}}{{end}}
</main></body></html>{{end}}

{{define "chart"}}<svg id="chart-{{.ID}}" class="chart" role="img" aria-label="{{.Title}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" xmlns="http://www.w3.org/2000/svg">
<title>{{.Title}}</title>
<text x="64" y="12">{{.Title}}{{with .Unit}} ({{.}}){{end}}</text>
{{range .YTicks}}<line class="axis" x1="60" x2="624" y1="{{.Y}}" y2="{{.Y}}" stroke-dasharray="2,3"/><text x="4" y="{{.Y}}">{{.Label}}</text>{{end}}
{{if gt (len .Points) 1}}<polyline points="{{.Line}}"/>{{end}}
{{range .Points}}<circle class="{{.Class}}" cx="{{.X}}" cy="{{.Y}}" r="4"><title>{{.Label}}: {{.Value}}</title></circle>
<text x="{{.X}}" y="{{$.Height}}" dy="-36" transform="rotate(-35 {{.X}} {{$.Height}})" text-anchor="end">{{.Label}}</text>{{end}}
</svg>{{end}}
`
