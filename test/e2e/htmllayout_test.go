package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// layoutReport is a CAUTION report of every layer whose results carry evidence as long as the
// real checks write it (Layer 4's sources, Layer 6's messages).
func layoutReport() *report.Report {
	rounds := "p95 latency from the due send time; 14 paired rounds of 5s at 200 req/s per image, OLD and NEW side by side (cpus 1, memory \"512m\" each), requests alternating"
	results := []check.Result{
		{Layer: check.L1Diff, Check: "packages", Status: check.StatusWarn, Measured: "1 added, 0 removed, 0 upgraded, 11 downgraded, 0 renamed", Baseline: "14 packages in old, 15 in new",
			Threshold: "no unexpected removal or downgrade", Source: "package databases read by syft",
			Message: "downgraded: alpine-baselayout 3.6.5-r0 → 3.4.3-r2, busybox 1.36.1-r29 → 1.36.1-r19, libcrypto3 3.3.2-r0 → 3.1.7-r0, libssl3 3.3.2-r0 → 3.1.7-r0, musl 1.2.5-r0 → 1.2.4_git20230717-r4"},
		{Layer: check.L1Diff, Check: "vulnerabilities", Status: check.StatusPass, Measured: "new: 0 at or above high", Baseline: "old: 0 at or above high",
			Threshold: "no new findings at or above high; no more findings in total", Source: "grype database /var/lib/plimsoll/db", Message: "no new findings at or above high"},
		{Layer: check.L2Smoke, Check: "start", Status: check.StatusPass, Measured: "running 1s after healthy", Baseline: "running 1s after healthy",
			Threshold: "starts and keeps running 1s once healthy", Source: "container state from the runtime", Message: "started and stayed up"},
		{Layer: check.L2Smoke, Check: "logs", Status: check.StatusPass, Measured: "0 fatal lines in 12 lines of output", Baseline: "0 fatal lines in 12 lines of output",
			Threshold: "no line matching panic:, fatal error:, FATAL, Segmentation fault, Traceback (most recent call last):", Source: "container output (stdout and stderr) from the start until after the smoke requests",
			Message: "no fatal line in the output"},
		{Layer: check.L4Perf, Check: "latency-p95", Status: check.StatusPass, Measured: "+1.2 % (NEW 3.41 ms), 95 % CI −2.0 … +4.1 %", Baseline: "OLD 3.37 ms",
			Threshold: "GO within +7.5 %, CAUTION up to +15 %, NO-GO past +15 % (the interval of the per-round ratios)", Source: rounds, Message: "no significant change"},
		{Layer: check.L4Perf, Check: "cpu-per-request", Status: check.StatusPass, Measured: "−0.4 % (NEW 1012 µs)", Baseline: "OLD 1016 µs",
			Threshold: "GO within +5 %, CAUTION up to +10 %, NO-GO past +10 %", Source: "cgroup CPU time / successful requests; " + rounds, Message: "no significant change"},
		{Layer: check.L4Perf, Check: "metrics-within", Status: check.StatusPass, Measured: "latency-p95 +1.2 % (NEW 3.41 ms)", Baseline: "latency-p95 OLD 3.37 ms",
			Threshold: "every metric within 15 % of OLD (the plan's promotion rule)", Source: "Layer 4's paired rounds (every metric)", Message: "every measured metric is within 15 % of OLD"},
		{Layer: check.L5Harden, Check: "read-only-root", Status: check.StatusPass, Measured: "healthy with a read-only root", Baseline: "healthy with a read-only root",
			Threshold: "healthy within 20s with a read-only root filesystem; tmpfs only at: none", Source: "GET /healthz → 200 on 127.0.0.1:32772", Message: "runs with a read-only root filesystem"},
		{Layer: check.L5Harden, Check: "signature", Status: check.StatusWarn, Measured: "not verified", Threshold: "a valid signature by the configured key or identity",
			Source: "harden.signature", Message: "not verified: no key or identity configured (harden.signature.key or identity; verify: false says signatures are not used)"},
		{Layer: check.L6Soak, Check: "memory", Status: check.StatusWarn, Measured: "+45.5 % projected over 25s (+45.5 % seen; 2.4 MiB → trend +6557.53 %/h)", Baseline: "+48.6 % projected over 25s (+48.6 % seen; 2.3 MiB → trend +7001.12 %/h)",
			Threshold: "projected growth ≤ 5 % GO, > 30 % NO-GO; stop at 50 % seen; a rise under 8.0 MiB is at most CAUTION",
			Source:    "soak: cgroup memory and CPU, host /proc/<pid>/{fd,status,net/tcp,net/tcp6}, a health probe on 127.0.0.1 and the container's logs, every interval under continuous load; Theil–Sen trends after the warm-up",
			Message:   "NEW: memory grows +45.5 % projected over the soak, but by 1.1 MiB, under the noise floor of 8.0 MiB (soak.limits.memoryNoiseFloor): CAUTION, not NO-GO; OLD: memory grows +48.6 % projected over the soak, but by 1.1 MiB"},
		{Layer: check.L6Soak, Check: "connections", Status: check.StatusPass, Measured: "median 4, no rise", Baseline: "median 4, no rise",
			Threshold: "< 4096, and no rise projected past it or by ≥ max(32, 25 %)", Source: "host /proc/<pid>/net/tcp", Message: "stable"},
	}
	var layers []report.Layer
	var runs []verdict.LayerRun
	for _, res := range results {
		if n := len(layers); n == 0 || layers[n-1].Layer != res.Layer {
			layers = append(layers, report.Layer{Layer: res.Layer, Name: res.Layer.Name(), State: report.StateRan})
			runs = append(runs, verdict.LayerRun{Layer: res.Layer, Ran: true})
		}
		l := &layers[len(layers)-1]
		l.Results = append(l.Results, res)
		l.Status = check.Worst(l.Status, res.Status)
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion, Tool: report.Tool{Name: "plimsoll", Version: "e2e"}, RunID: "e2e-layout",
		Old:    &report.Subject{Ref: "127.0.0.1:5000/lib/alpine:3.20.3", Transport: "registry", Digest: "sha256:" + strings.Repeat("a", 64)},
		New:    report.Subject{Ref: "127.0.0.1:5000/lib/alpine:3.19.4", Transport: "registry", Digest: "sha256:" + strings.Repeat("b", 64)},
		Plan:   report.Plan{Kind: "distro", Risk: "high", Layers: check.AllLayers, Reasons: []string{"alpine 3.20.3→3.19.4, a downgrade to an older release (distro)"}},
		Layers: layers,
	}
	r.Verdict = verdict.Decide(verdict.Policy{Required: []check.Layer{check.L2Smoke}}, runs, results)
	return r
}

// layoutScript measures the loaded report and posts what it found to the page that framed it:
// the viewport, how far the page overflows it sideways, and for each cell of the layer and
// check columns of the checks table its text, its width and the lines its text takes.
const layoutScript = `<script>
window.addEventListener("load", function () {
  var out = {width: window.innerWidth, overflow: document.documentElement.scrollWidth - window.innerWidth, cells: []};
  Array.prototype.forEach.call(document.querySelectorAll("#checks tbody tr"), function (tr) {
    [0, 1].forEach(function (i) {
      var td = tr.cells[i], r = document.createRange(), tops = {};
      r.selectNodeContents(td);
      Array.prototype.forEach.call(r.getClientRects(), function (c) { if (c.width > 0) { tops[Math.round(c.top)] = true; } });
      out.cells.push({text: td.textContent, width: td.getBoundingClientRect().width, lines: Object.keys(tops).length});
    });
  });
  parent.postMessage(JSON.stringify(out), "*");
});
</script>`

// pageLayout is what layoutScript measured.
type pageLayout struct {
	Width    float64 `json:"width"`
	Overflow float64 `json:"overflow"`
	Cells    []struct {
		Text  string  `json:"text"`
		Width float64 `json:"width"`
		Lines int     `json:"lines"`
	} `json:"cells"`
}

// TestHTMLReportLayout opens report.html in headless Chromium framed at a desktop width
// (1280 px) and a phone's (390 px; a headless window is never narrower than 500 px, a frame
// is): the layer and check names sit on one line, wider than a few characters (they wrapped one
// letter per line at 1300 px), and the page never scrolls sideways (a wide table scrolls in its
// own box). Screenshots are left as artifacts.
func TestHTMLReportLayout(t *testing.T) {
	needChromium(t)
	dir := artifactDir(t)
	if _, err := report.WriteDir(dir, layoutReport()); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	measured := filepath.Join(dir, "measured.html")
	if err := os.WriteFile(measured, []byte(strings.Replace(string(src), "</body>", layoutScript+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{1280, 390} {
		frame := filepath.Join(dir, fmt.Sprintf("frame-%d.html", width))
		page := fmt.Sprintf(`<!doctype html><html><body style="margin:0"><pre id="layout"></pre>`+
			`<iframe src="measured.html" style="width:%dpx;height:2400px;border:0"></iframe>`+
			`<script>window.addEventListener("message", function (e) { document.getElementById("layout").textContent = e.data; });</script></body></html>`, width)
		if err := os.WriteFile(frame, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		size := fmt.Sprintf("--window-size=%d,2500", width+40)
		dom, console := chromium(t, frame, "--dump-dom", "--virtual-time-budget=10000", "--allow-file-access-from-files", size)
		for _, c := range console {
			t.Errorf("%d px: console: %s", width, c)
		}
		doc, err := html.Parse(strings.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		var got pageLayout
		if err := json.Unmarshal([]byte(nodeText(elementByID(doc, "layout"))), &got); err != nil {
			t.Fatalf("%d px: no measurement from the page (%v)", width, err)
		}
		if got.Width != float64(width) {
			t.Fatalf("%d px: the report was laid out %g px wide", width, got.Width)
		}
		if len(got.Cells) < 2*11 {
			t.Fatalf("%d px: %d cells measured, want the layer and check of 11 results", width, len(got.Cells))
		}
		for _, c := range got.Cells {
			if c.Lines != 1 || c.Width < 6*float64(len([]rune(strings.TrimSpace(c.Text)))) {
				t.Errorf("%d px: cell %q is %.0f px wide on %d lines: want one line, at least 6 px a character", width, c.Text, c.Width, c.Lines)
			}
		}
		if got.Overflow > 0 {
			t.Errorf("%d px: the page is %g px wider than the window: only a table's own box may scroll", width, got.Overflow)
		}
		shot := filepath.Join(dir, fmt.Sprintf("report-%d.png", width))
		chromium(t, frame, "--screenshot="+shot, "--virtual-time-budget=10000", "--allow-file-access-from-files", size, "--hide-scrollbars")
		if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
	}
	t.Logf("report, frames and screenshots in %s", dir)
}
