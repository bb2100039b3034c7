package e2e

import (
	"bufio"
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// TestServeInChromium starts `plimsoll serve` with a token on a store holding a hostile NO-GO
// run and two earlier runs of the same repository, and opens its pages in headless Chromium:
// each loads with no console message, the verdicts, the report and the trend charts are in the
// DOM, hostile strings are text, and screenshots are left as artifacts.
func TestServeInChromium(t *testing.T) {
	needChromium(t)
	dir := artifactDir(t)
	db := filepath.Join(t.TempDir(), "runs.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	hostile := hostileReport()
	hostile.StartedAt = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	hostile.FinishedAt = hostile.StartedAt.Add(time.Minute)
	for i, tag := range []string{"3.20.1", "3.20.2"} {
		r := hostileReport()
		r.RunID, r.New.Ref = "earlier-"+tag, "alpine:"+tag
		r.StartedAt = hostile.StartedAt.Add(-time.Duration(2-i) * 24 * time.Hour)
		r.FinishedAt = r.StartedAt.Add(time.Minute)
		r.Verdict = verdict.Verdict{Decision: verdict.Go, Summary: "all checks passed"}
		if err := st.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	hostile.New.Ref = "alpine:3.20.3"
	if err := st.PutRun(ctx, hostile); err != nil {
		t.Fatal(err)
	}
	st.Close()

	sctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(sctx, bin, "serve", "--addr", "127.0.0.1:0", "--store", db, "--token", "e2e-token-0123456789")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no address: %v", err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "plimsoll serve: "))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("serve listens on %q, want loopback", base)
	}
	if r := plimsoll(t, "serve", "--addr", "0.0.0.0:0", "--store", db); r.code != 2 {
		t.Errorf("serve beyond loopback without a token: exit %d, want 2", r.code)
	}

	pages := []struct{ name, path, id, want string }{
		{"runs", "", "runs", "NO-GO"},
		{"report", "runs/" + hostile.RunID, "decision", "NO-GO"},
		{"trends", "trends?image=" + url.QueryEscape("alpine"), "chart-verdicts", ""},
		{"ledger", "ledger", "ledger-summary", "Patches applied"},
	}
	for _, p := range pages {
		u := base + p.path
		if strings.Contains(u, "?") {
			u += "&token=e2e-token-0123456789"
		} else {
			u += "?token=e2e-token-0123456789"
		}
		doc := loadedDOM(t, u)
		el := elementByID(doc, p.id)
		if el == nil {
			t.Errorf("%s page: no #%s in the DOM", p.name, p.id)
			continue
		}
		if !strings.Contains(nodeText(el), p.want) {
			t.Errorf("%s page: #%s does not say %s", p.name, p.id, p.want)
		}
		if p.name == "report" {
			checkLoadedReport(t, doc, "NO-GO")
		}
		if p.name == "trends" {
			if n := strings.Count(nodeText(elementByID(doc, "trend")), "3.20."); n != 3 {
				t.Errorf("trends table shows %d versions, want 3", n)
			}
		}
		eachNode(doc, func(n *html.Node) {
			if n.Type == html.TextNode && strings.Contains(n.Data, "alert(1)") && n.Parent.Data == "script" {
				t.Errorf("%s page: the hostile string became a script", p.name)
			}
		})
		chromium(t, u, "--screenshot="+filepath.Join(dir, p.name+".png"), "--window-size=1280,900")
	}
}
