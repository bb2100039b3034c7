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

// soakSeries is the part of a Layer 6 result's Data (internal/soak.ResultData) the chart reads:
// each image's series of the check's metric, T in seconds since the soak started. Decoded
// leniently, as perfSeries is.
type soakSeries struct {
	Series map[string]struct {
		T []float64 `json:"t"`
		V []float64 `json:"v"`
	} `json:"series"`
}

// soakChart draws one Layer 6 metric over the soak, a line per image.
type soakChart struct {
	ID, Title, Unit        string
	Width, Height          int
	Left, Right, Base, Top float64
	Lines                  []soakLine
	XTicks, YTicks         []perfTick
}

type soakLine struct {
	Role, Color, Points, Last string
}

// soakUnits scales a metric's raw values for people: RSS is recorded in bytes.
var soakUnits = map[string]struct {
	unit  string
	scale float64
}{
	"memory": {"MiB", 1 << 20}, "fds": {"open FDs", 1}, "connections": {"TCP connections", 1},
	"cpu": {"CPU seconds", 1}, "health": {"probe passed (1) or failed (0)", 1}, "errors": {"error lines so far", 1},
}

// Geometry of a Layer 6 chart, in SVG user units.
const (
	soakW, soakH                             = 620, 230
	soakLeft, soakRight, soakTop, soakBottom = 56, 600, 16, 190
)

// soakViews draws the result of a Layer 6 check whose Data holds the series of each image.
func soakViews(check string) func(data any) []template.HTML {
	return func(data any) []template.HTML {
		b, err := json.Marshal(data)
		if err != nil {
			return nil
		}
		var d soakSeries
		if json.Unmarshal(b, &d) != nil || len(d.Series) == 0 {
			return nil
		}
		u := soakUnits[check]
		c := soakChart{ID: "soak-" + check, Title: check + " over the soak", Unit: u.unit, Width: soakW, Height: soakH,
			Left: soakLeft, Right: soakRight, Top: soakTop, Base: soakBottom}
		tMax, vMax := 0.0, 0.0
		for _, s := range d.Series {
			if len(s.T) == 0 || len(s.T) != len(s.V) {
				return nil
			}
			for i := range s.T {
				if !finite(s.T[i]) || !finite(s.V[i]) {
					return nil
				}
				tMax, vMax = math.Max(tMax, s.T[i]), math.Max(vMax, s.V[i]/u.scale)
			}
		}
		tMax, vMax = math.Max(tMax, 1), math.Max(vMax*1.1, 1e-9)
		x := func(t float64) float64 { return soakLeft + (soakRight-soakLeft)*t/tMax }
		y := func(v float64) float64 { return soakBottom - (soakBottom-soakTop)*v/vMax }
		roles := slices.Sorted(func(yield func(string) bool) {
			for r := range d.Series {
				if !yield(r) {
					return
				}
			}
		})
		for _, role := range roles {
			s := d.Series[role]
			pts := make([]string, len(s.T))
			for i := range s.T {
				pts[i] = fmt.Sprintf("%.1f,%.1f", x(s.T[i]), y(s.V[i]/u.scale))
			}
			color := "#8c959f"
			if role == "new" {
				color = "#0969da"
			}
			c.Lines = append(c.Lines, soakLine{Role: role, Color: color, Points: strings.Join(pts, " "),
				Last: strconv.FormatFloat(s.V[len(s.V)-1]/u.scale, 'g', 4, 64)})
		}
		for i := range 5 {
			c.XTicks = append(c.XTicks, perfTick{At: x(tMax * float64(i) / 4), Label: strconv.FormatFloat(tMax*float64(i)/4, 'g', 4, 64) + " s"})
			c.YTicks = append(c.YTicks, perfTick{At: y(vMax * float64(i) / 4), Label: strconv.FormatFloat(vMax*float64(i)/4, 'g', 3, 64)})
		}
		return renderView("soakchart", c)
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

var _ = template.Must(htmlTemplates.New("soakchart").Parse(`
{{- define "soakchart" -}}
<h4>{{.Title}}</h4>
<svg class="chart soakchart" id="{{.ID}}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{{.Title}} ({{.Unit}})" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
{{- range .YTicks}}
<line x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.At}}" y2="{{.At}}" stroke="#d0d7de"></line><text x="{{$.Left}}" y="{{.At}}" dx="-4" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<text x="{{.At}}" y="{{$.Base}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{- end}}
<text x="{{$.Left}}" y="{{$.Base}}" dy="34">{{.Unit}}</text>
{{- range $i, $l := .Lines}}
<polyline class="series {{$l.Role}}" fill="none" stroke="{{$l.Color}}" stroke-width="2" points="{{$l.Points}}"><title>{{$l.Role}}</title></polyline>
<text x="{{$.Right}}" y="{{$.Base}}" dy="34" dx="{{if eq $i 0}}-160{{else}}-60{{end}}" fill="{{$l.Color}}">{{$l.Role}}: {{$l.Last}}</text>
{{- end}}
</svg>
{{- end}}`))
