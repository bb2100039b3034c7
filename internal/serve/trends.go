package serve

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// The Layer 4 checks whose measured values a trend follows (see internal/check/perf).
const (
	p95Check = "latency-p95"
	rssCheck = "rss"
)

// Trend is the history of one image repository: every recorded run whose new image is from it,
// oldest first.
type Trend struct {
	Image string     `json:"image"`
	Runs  []TrendRun `json:"runs"`
}

// TrendRun is one run of a trend. P95Ms and RSSMiB are the new image's Layer 4 measurements,
// absent when the run measured none.
type TrendRun struct {
	RunID     string           `json:"runId"`
	StartedAt time.Time        `json:"startedAt"`
	NewRef    string           `json:"newRef"`
	Version   string           `json:"version"`
	Decision  verdict.Decision `json:"decision"`
	P95Ms     *float64         `json:"p95Ms,omitempty"`
	RSSMiB    *float64         `json:"rssMiB,omitempty"`
}

// Trends reads the trend of repository repo from st.
func Trends(ctx context.Context, st store.Store, repo string) (Trend, error) {
	runs, err := st.ListRuns(ctx, store.Filter{Image: repo, Limit: maxList})
	if err != nil {
		return Trend{}, err
	}
	rows, err := st.Results(ctx, store.ResultFilter{Image: repo, Layer: check.L4Perf})
	if err != nil {
		return Trend{}, err
	}
	type perf struct{ p95, rss *float64 }
	measured := map[string]*perf{}
	for _, row := range rows {
		if row.Check != p95Check && row.Check != rssCheck {
			continue
		}
		v, ok := leadingNumber(row.Measured)
		if !ok {
			continue
		}
		p := measured[row.RunID]
		if p == nil {
			p = &perf{}
			measured[row.RunID] = p
		}
		if row.Check == p95Check {
			p.p95 = &v
		} else {
			p.rss = &v
		}
	}
	t := Trend{Image: repo, Runs: []TrendRun{}}
	for _, r := range slices.Backward(runs) {
		if store.Repository(r.NewRef) != repo {
			continue // the repository was the old image of this run
		}
		tr := TrendRun{RunID: r.ID, StartedAt: r.StartedAt, NewRef: r.NewRef, Version: version(r.NewRef), Decision: r.Decision}
		if p := measured[r.ID]; p != nil {
			tr.P95Ms, tr.RSSMiB = p.p95, p.rss
		}
		t.Runs = append(t.Runs, tr)
	}
	return t, nil
}

// leadingNumber reads the number a measured value starts with ("12.5 ms" → 12.5).
func leadingNumber(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// version is what a chart labels a run with: the tag of ref, else a short digest, else ref.
func version(ref string) string {
	rest := ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d := rest[i+1:]
		rest = rest[:i]
		if j := strings.LastIndexByte(rest, ':'); j > strings.LastIndexByte(rest, '/') {
			return rest[j+1:]
		}
		if k := strings.IndexByte(d, ':'); k >= 0 && len(d) > k+13 {
			return d[k+1 : k+13]
		}
		return d
	}
	if j := strings.LastIndexByte(rest, ':'); j > strings.LastIndexByte(rest, '/') {
		return rest[j+1:]
	}
	return ref
}

// chart is a line chart drawn as inline SVG; every label goes through html/template.
type chart struct {
	ID, Title, Unit string
	Width, Height   int
	Points          []chartPoint
	Line            string // the polyline's points attribute
	YTicks          []chartTick
}

type chartPoint struct {
	X, Y  float64
	Label string // the version under the point
	Value string
	Class string // the decision of the run, for the verdict chart
}

type chartTick struct {
	Y     float64
	Label string
}

// Geometry of a chart, in SVG user units.
const (
	chartW, chartH               = 640, 240
	plotLeft, plotRight, plotTop = 64, 16, 16
	plotBottom                   = 56
)

// charts draws the verdicts over time and p95 and RSS over versions.
func (t Trend) charts() []template.HTML {
	var out []template.HTML
	verdicts := make([]chartPoint, len(t.Runs))
	rank := map[verdict.Decision]float64{verdict.Go: 3, verdict.Caution: 2, verdict.NoGo: 1, verdict.Error: 0}
	for i, r := range t.Runs {
		verdicts[i] = chartPoint{Y: rank[r.Decision], Label: r.Version, Value: string(r.Decision),
			Class: "d-" + strings.ToLower(string(r.Decision))}
	}
	out = append(out, draw("verdicts", "Verdict per run", "", verdicts, []chartTick{{0, "ERROR"}, {1, "NO-GO"}, {2, "CAUTION"}, {3, "GO"}}))
	for _, m := range []struct {
		id, title, unit string
		get             func(TrendRun) *float64
	}{
		{"p95", "p95 latency of the new image", "ms", func(r TrendRun) *float64 { return r.P95Ms }},
		{"rss", "RSS of the new image", "MiB", func(r TrendRun) *float64 { return r.RSSMiB }},
	} {
		var pts []chartPoint
		for _, r := range t.Runs {
			if v := m.get(r); v != nil {
				pts = append(pts, chartPoint{Y: *v, Label: r.Version, Value: strconv.FormatFloat(*v, 'f', -1, 64) + " " + m.unit})
			}
		}
		if len(pts) > 0 {
			out = append(out, draw(m.id, m.title, m.unit, pts, nil))
		}
	}
	return out
}

// draw places pts evenly along x and scales y to the plot (from 0, or to the given ticks).
func draw(id, title, unit string, pts []chartPoint, ticks []chartTick) template.HTML {
	c := chart{ID: id, Title: title, Unit: unit, Width: chartW, Height: chartH}
	lo, hi := 0.0, 0.0
	for _, p := range pts {
		hi = math.Max(hi, p.Y)
	}
	if ticks != nil {
		lo, hi = ticks[0].Y, ticks[len(ticks)-1].Y
	} else {
		if hi == 0 {
			hi = 1
		}
		hi *= 1.1
		for i := range 5 {
			v := lo + (hi-lo)*float64(i)/4
			ticks = append(ticks, chartTick{Y: v, Label: strconv.FormatFloat(v, 'g', 3, 64)})
		}
	}
	plotW, plotH := float64(chartW-plotLeft-plotRight), float64(chartH-plotTop-plotBottom)
	y := func(v float64) float64 { return float64(plotTop) + plotH*(1-(v-lo)/(hi-lo)) }
	for _, tk := range ticks {
		c.YTicks = append(c.YTicks, chartTick{Y: y(tk.Y), Label: tk.Label})
	}
	var line []string
	for i, p := range pts {
		x := float64(plotLeft) + plotW/2
		if len(pts) > 1 {
			x = float64(plotLeft) + plotW*float64(i)/float64(len(pts)-1)
		}
		p.X, p.Y = x, y(p.Y)
		c.Points = append(c.Points, p)
		line = append(line, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
	}
	c.Line = strings.Join(line, " ")
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "chart", c); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error())) //nolint:gosec // escaped
	}
	return template.HTML(b.String()) //nolint:gosec // the output of html/template
}
