package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/serve"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// Hostile is what a hostile image puts in its reference and a check's message.
const hostile = "<script>alert(1)</script>"

// run is a report of one upgrade of shop/api with the new image's p95 and RSS.
func run(id, oldTag, newTag string, at time.Time, d verdict.Decision, p95, rss string) *report.Report {
	res := []check.Result{
		{Layer: check.L4Perf, Check: "latency-p95", Status: check.StatusPass, Measured: p95, Baseline: "10 ms"},
		{Layer: check.L4Perf, Check: "rss", Status: check.StatusPass, Measured: rss, Baseline: "20 MiB"},
	}
	return &report.Report{SchemaVersion: "1", Tool: report.Tool{Name: "plimsoll", Version: "test"}, RunID: id,
		StartedAt: at, FinishedAt: at.Add(90 * time.Second),
		Old:     &report.Subject{Ref: "registry.example/shop/api:" + oldTag, Transport: "registry", Digest: "sha256:" + strings.Repeat("a", 64)},
		New:     report.Subject{Ref: "registry.example/shop/api:" + newTag, Transport: "registry", Digest: "sha256:" + strings.Repeat("b", 64)},
		Plan:    report.Plan{Kind: "patch", Layers: []check.Layer{check.L4Perf}},
		Layers:  []report.Layer{{Layer: check.L4Perf, Name: "perf", State: report.StateRan, Status: check.StatusPass, Results: res}},
		Verdict: verdict.Verdict{Decision: d, Summary: "summary of " + id},
	}
}

func newStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, r := range []*report.Report{
		run("r1", "1.0.0", "1.0.1", base, verdict.Go, "10.2 ms", "20.0 MiB"),
		run("r2", "1.0.1", "1.0.2", base.Add(24*time.Hour), verdict.Caution, "11.0 ms", "22.5 MiB"),
		run("r3", "1.0.2", "1.1.0", base.Add(48*time.Hour), verdict.NoGo, "15.1 ms", "30.0 MiB"),
	} {
		if err := st.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	hostileRun := run("r4", "1.1.0", "1.1.1", base.Add(72*time.Hour), verdict.Go, "not measured", "")
	hostileRun.Verdict.Summary = hostile
	hostileRun.Layers[0].Results[0].Message = hostile
	if err := st.PutRun(ctx, hostileRun); err != nil {
		t.Fatal(err)
	}
	return st
}

func get(t *testing.T, h http.Handler, target string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunsAPIAndFilters(t *testing.T) {
	h := serve.Handler(newStore(t), serve.Options{})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"r4", "r3", "r2", "r1"}},
		{"?decision=no-go", []string{"r3"}},
		{"?limit=2", []string{"r4", "r3"}},
		{"?image=registry.example/shop/other", []string{}},
	} {
		res := get(t, h, "/api/runs"+tc.query)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tc.query, res.StatusCode)
		}
		var runs []store.RunSummary
		if err := json.NewDecoder(res.Body).Decode(&runs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("/api/runs%s = %v, want %v", tc.query, ids, tc.want)
		}
	}
	for _, bad := range []string{"?decision=MAYBE", "?limit=0", "?limit=x", "?since=-1h"} {
		if res := get(t, h, "/api/runs"+bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("/api/runs%s: status %d, want 400", bad, res.StatusCode)
		}
	}
}

func TestRunAPIAndPage(t *testing.T) {
	h := serve.Handler(newStore(t), serve.Options{})
	res := get(t, h, "/api/runs/r3")
	var rep report.Report
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.RunID != "r3" || rep.Verdict.Decision != verdict.NoGo {
		t.Errorf("run r3: got %s %s", rep.RunID, rep.Verdict.Decision)
	}
	page := body(t, get(t, h, "/runs/r4"))
	if strings.Contains(page, hostile) || !strings.Contains(page, "&lt;script&gt;") {
		t.Error("the report page does not show the hostile message as escaped text")
	}
	for _, p := range []string{"/runs/nope", "/api/runs/nope"} {
		if res := get(t, h, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestTrends(t *testing.T) {
	st := newStore(t)
	tr, err := serve.Trends(context.Background(), st, "registry.example/shop/api")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tr.Runs {
		p95, rss := "-", "-"
		if r.P95Ms != nil {
			p95 = jsonNum(*r.P95Ms)
		}
		if r.RSSMiB != nil {
			rss = jsonNum(*r.RSSMiB)
		}
		got = append(got, r.Version+" "+string(r.Decision)+" "+p95+" "+rss)
	}
	want := []string{"1.0.1 GO 10.2 20", "1.0.2 CAUTION 11 22.5", "1.1.0 NO-GO 15.1 30", "1.1.1 GO - -"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("trend oldest first:\n got %q\nwant %q", got, want)
	}
	page := body(t, get(t, serve.Handler(st, serve.Options{}), "/trends?image="+url.QueryEscape("registry.example/shop/api:1.1.1")))
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"chart-verdicts", "chart-p95", "chart-rss", "trend"} {
		if find(doc, id) == nil {
			t.Errorf("trends page has no #%s", id)
		}
	}
	if res := get(t, serve.Handler(st, serve.Options{}), "/trends"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("/trends without an image: status %d, want 400", res.StatusCode)
	}
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

func find(n *html.Node, id string) *html.Node {
	for _, a := range n.Attr {
		if a.Key == "id" && a.Val == id {
			return n
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, id); f != nil {
			return f
		}
	}
	return nil
}

func TestTokenAndReadOnly(t *testing.T) {
	h := serve.Handler(newStore(t), serve.Options{Token: "s3cret"})
	if res := get(t, h, "/api/runs"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", res.StatusCode)
	}
	if res := get(t, h, "/api/runs", "Authorization", "Bearer wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", res.StatusCode)
	}
	if res := get(t, h, "/api/runs", "Authorization", "Bearer s3cret"); res.StatusCode != http.StatusOK {
		t.Errorf("bearer token: status %d, want 200", res.StatusCode)
	}
	res := get(t, h, "/?token=s3cret&decision=GO")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/?decision=GO" {
		t.Fatalf("?token=: status %d to %q, want a redirect to /?decision=GO", res.StatusCode, res.Header.Get("Location"))
	}
	cookie := res.Cookies()[0]
	if res := get(t, h, "/", "Cookie", cookie.Name+"="+cookie.Value); res.StatusCode != http.StatusOK {
		t.Errorf("cookie: status %d, want 200", res.StatusCode)
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
		req := httptest.NewRequest(m, "/api/runs/r1", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, rec.Code)
		}
	}
}

func TestCheckToken(t *testing.T) {
	for tok, ok := range map[string]bool{
		"":                                   false,
		" ":                                  false,
		"                                ":   false,
		"\t\n\t\n\t\n\t\n\t\n\t\n\t\n\t\n\t": false,
		"s3cret":                             false,
		"0123456789abcde":                    false,
		"0123456789 abcde":                   false, // 15 non-space characters
		" 0123456789abcdef":                  false,
		"0123456789abcdef\n":                 false,
		"0123456789abcdef":                   true,
		"correct horse battery staple":       true,
		"äöüßäöüßäöüßäöüß":                   true,
	} {
		err := serve.CheckToken(tok)
		if (err == nil) != ok {
			t.Errorf("CheckToken(%q) = %v, want ok=%v", tok, err, ok)
		}
		if err != nil && (!errors.Is(err, serve.ErrWeakToken) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("CheckToken(%q) = %q, want one line wrapping ErrWeakToken", tok, err)
		}
	}
}
