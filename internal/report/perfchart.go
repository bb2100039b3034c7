package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// perfSeries is the part of a Layer 4 result's Data (internal/check/perf.Data) the chart reads:
// the metric's per-round values of both images. It is decoded leniently, because the chart
// needs only these fields of a shape that grows.
type perfSeries struct {
	Series struct {
		Unit string    `json:"unit"`
		Old  []float64 `json:"old"`
		New  []float64 `json:"new"`
	} `json:"series"`
}

// perfChart draws one metric's rounds as two empirical distribution functions (the share of
// rounds at or below a value, old and new), and the two medians as bars.
type perfChart struct {
	ID, Title, Unit           string
	Width, Height, Base, Left int
	OldLine, NewLine          string
	XTicks, YTicks            []perfTick
	Bars                      []perfBar
	Summary                   string
}

type perfTick struct {
	At    float64
	Label string
}

type perfBar struct {
	Class, Label, Value string
	X, Y, W, H          float64
}

// Geometry of a Layer 4 chart, in SVG user units: the distribution plot on the left, the
// median bars on the right.
const (
	perfW, perfH                 = 620, 230
	perfLeft, perfTop, perfBase  = 48, 16, 190
	perfPlotRight, perfBarsLeft  = 420, 470
	perfBarWidth, perfBarSpacing = 44, 60
)

// perfViews draws the result of a Layer 4 metric whose Data holds both images' rounds.
func perfViews(check string) func(data any) []template.HTML {
	return func(data any) []template.HTML {
		b, err := json.Marshal(data)
		if err != nil {
			return nil
		}
		var d perfSeries
		if json.Unmarshal(b, &d) != nil || len(d.Series.Old) == 0 || len(d.Series.New) == 0 {
			return nil
		}
		for _, v := range slices.Concat(d.Series.Old, d.Series.New) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil
			}
		}
		return renderView("perfchart", perfChartOf(check, d.Series.Unit, d.Series.Old, d.Series.New))
	}
}

func perfChartOf(check, unit string, old, new []float64) perfChart {
	old, new = slices.Sorted(slices.Values(old)), slices.Sorted(slices.Values(new))
	lo, hi := min(old[0], new[0]), max(old[len(old)-1], new[len(new)-1])
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	plotW, plotH := float64(perfPlotRight-perfLeft), float64(perfBase-perfTop)
	x := func(v float64) float64 { return perfLeft + plotW*(v-lo)/(hi-lo) }
	y := func(share float64) float64 { return perfBase - plotH*share }
	steps := func(vs []float64) string {
		pts := []string{fmt.Sprintf("%.1f,%.1f", float64(perfLeft), y(0))}
		for i, v := range vs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(v), y(float64(i)/float64(len(vs)))),
				fmt.Sprintf("%.1f,%.1f", x(v), y(float64(i+1)/float64(len(vs)))))
		}
		return strings.Join(append(pts, fmt.Sprintf("%.1f,%.1f", float64(perfPlotRight), y(1))), " ")
	}
	c := perfChart{ID: "perf-" + check, Title: check, Unit: unit, Width: perfW, Height: perfH,
		Base: perfBase, Left: perfLeft, OldLine: steps(old), NewLine: steps(new)}
	for i := range 5 {
		v := lo + (hi-lo)*float64(i)/4
		c.XTicks = append(c.XTicks, perfTick{At: x(v), Label: strconv.FormatFloat(v, 'g', 4, 64)})
	}
	for _, s := range []float64{0, 0.5, 1} {
		c.YTicks = append(c.YTicks, perfTick{At: y(s), Label: fmt.Sprintf("%.0f%%", s*100)})
	}
	mo, mn := medianOf(old), medianOf(new)
	top := math.Max(math.Max(mo, mn), 0)
	for i, m := range []struct {
		class, label string
		v            float64
	}{{"old", "old", mo}, {"new", "new", mn}} {
		h := 0.0
		if top > 0 && m.v > 0 {
			h = math.Max(plotH*m.v/top, 2)
		}
		c.Bars = append(c.Bars, perfBar{Class: m.class, Label: m.label, Value: strconv.FormatFloat(m.v, 'g', 4, 64),
			X: perfBarsLeft + float64(i)*perfBarSpacing, Y: perfBase - h, W: perfBarWidth, H: h})
	}
	c.Summary = fmt.Sprintf("median of %d rounds: old %s %s, new %s %s", len(old),
		strconv.FormatFloat(mo, 'g', 4, 64), unit, strconv.FormatFloat(mn, 'g', 4, 64), unit)
	return c
}

// medianOf returns the median of sorted values.
func medianOf(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

var _ = template.Must(htmlTemplates.New("perfchart").Parse(`
{{- define "perfchart" -}}
<h4>{{.Title}} per round, old and new</h4>
<p class="muted">{{.Summary}}</p>
<svg class="chart perfchart" id="{{.ID}}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{{.Title}}: {{.Summary}}" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{- range .YTicks}}
<line x1="{{$.Left}}" x2="420" y1="{{.At}}" y2="{{.At}}" stroke="#d0d7de"></line><text x="{{$.Left}}" y="{{.At}}" dx="-4" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<text x="{{.At}}" y="{{$.Base}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{- end}}
<text x="234" y="{{$.Base}}" dy="34" text-anchor="middle">{{.Unit}} (share of rounds at or below)</text>
<polyline class="ecdf old" fill="none" stroke="#8c959f" stroke-width="2" points="{{.OldLine}}"><title>old</title></polyline>
<polyline class="ecdf new" fill="none" stroke="#0969da" stroke-width="2" points="{{.NewLine}}"><title>new</title></polyline>
{{- range .Bars}}
<rect class="bar {{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{if eq .Class "old"}}#8c959f{{else}}#0969da{{end}}"><title>median {{.Label}}: {{.Value}} {{$.Unit}}</title></rect>
<text x="{{.X}}" y="{{$.Base}}" dx="22" dy="16" text-anchor="middle">{{.Label}}</text>
<text x="{{.X}}" y="{{.Y}}" dx="22" dy="-3" text-anchor="middle">{{.Value}}</text>
{{- end}}
</svg>
{{- end}}`))
