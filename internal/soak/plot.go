package soak

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// The plots are hand-written SVG: no plotting library is in the module graph, and a line chart
// of a few series needs none.

// Plot files WritePlots writes.
const (
	PlotMemory = "soak-memory.svg"
	PlotFDs    = "soak-fds.svg"
	PlotHealth = "soak-health.svg"
)

// WritePlots writes the memory, FD and health series of o as SVG line charts into dir and
// returns the files written.
func WritePlots(dir string, o *Outcome) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("soak plots: %w", err)
	}
	charts := []struct {
		file, title, unit string
		pick              func(*Recording) *Series
		scale             float64
	}{
		{PlotMemory, "Memory (anonymous RSS of the container)", "MiB", func(r *Recording) *Series { return &r.RSS }, 1 << 20},
		{PlotFDs, "Open file descriptors", "FDs", func(r *Recording) *Series { return &r.FDs }, 1},
		{PlotHealth, "Health probes passed so far", "%", func(r *Recording) *Series { return runningShare(&r.Health) }, 0.01},
	}
	var files []string
	for _, c := range charts {
		lines := map[string]*Series{}
		for name, r := range o.Recordings {
			lines[name] = c.pick(r)
		}
		p := filepath.Join(dir, c.file)
		if err := os.WriteFile(p, svgChart(c.title, c.unit, c.scale, lines, o.Window), 0o644); err != nil {
			return files, fmt.Errorf("soak plots: %w", err)
		}
		files = append(files, p)
	}
	return files, nil
}

// runningShare turns 0/1 probe results into the share passed so far.
func runningShare(s *Series) *Series {
	var out Series
	ok := 0.0
	for i, v := range s.V {
		ok += v
		out.add(s.T[i], ok/float64(i+1))
	}
	return &out
}

// Chart geometry.
const (
	chartW, chartH = 720, 300
	padL, padR     = 70, 20
	padT, padB     = 40, 40
)

var lineColour = map[string]string{"old": "#7f7f7f", "new": "#1f77b4"}

// svgChart draws the series (values divided by scale) against seconds, with the warm-up
// shaded.
func svgChart(title, unit string, scale float64, lines map[string]*Series, w Window) []byte {
	var b bytes.Buffer
	tMax, vMin, vMax := w.Duration.Seconds(), math.Inf(1), math.Inf(-1)
	names := make([]string, 0, len(lines))
	for n, s := range lines {
		names = append(names, n)
		for i := range s.T {
			tMax = math.Max(tMax, s.T[i])
			vMin, vMax = math.Min(vMin, s.V[i]/scale), math.Max(vMax, s.V[i]/scale)
		}
	}
	slices.Sort(names)
	if math.IsInf(vMin, 0) {
		vMin, vMax = 0, 1
	}
	vMin = math.Min(vMin, 0)
	if vMax <= vMin {
		vMax = vMin + 1
	}
	tMax = math.Max(tMax, 1)
	x := func(t float64) float64 { return padL + t/tMax*(chartW-padL-padR) }
	y := func(v float64) float64 { return chartH - padB - (v-vMin)/(vMax-vMin)*(chartH-padT-padB) }
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s</text>`+"\n", padL, escape(title))
	if w.Warmup > 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f0f0f0"><title>warm-up</title></rect>`+"\n",
			x(0), padT, x(w.Warmup.Seconds())-x(0), chartH-padT-padB)
	}
	fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" fill="none" stroke="black"/>`+"\n", padL, padT, chartH-padB, chartW-padR)
	for i := 0; i <= 4; i++ {
		v := vMin + (vMax-vMin)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.4g %s</text>`+"\n", padL-4, y(v)+4, v, escape(unit))
		t := tMax * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), chartH-padB+16, fmtSeconds(t))
	}
	for k, n := range names {
		s := lines[n]
		colour := lineColour[n]
		if colour == "" {
			colour = "#d62728"
		}
		var path bytes.Buffer
		for i := range s.T {
			cmd := 'L'
			if i == 0 {
				cmd = 'M'
			}
			fmt.Fprintf(&path, "%c%.1f %.1f ", cmd, x(s.T[i]), y(s.V[i]/scale))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`+"\n", bytes.TrimSpace(path.Bytes()), colour, upper(n))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", chartW-padR-80+40*k, 20, colour, upper(n))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func fmtSeconds(s float64) string {
	switch {
	case s >= 7200:
		return fmt.Sprintf("%.1fh", s/3600)
	case s >= 120:
		return fmt.Sprintf("%.0fm", s/60)
	}
	return fmt.Sprintf("%.0fs", s)
}

func escape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
