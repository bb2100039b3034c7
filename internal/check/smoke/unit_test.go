package smoke

import (
	"archive/tar"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
)

func TestJudge(t *testing.T) {
	ok, bad, slow, none := pass("ok"), fail("broken"), outcome{State: timedOut, Detail: "no answer within 10s"}, skip("not running")
	p := func(o outcome) *outcome { return &o }
	for _, tc := range []struct {
		name     string
		items    []item
		status   check.Status
		msg      string // the message must contain it
		verdicts []string
	}{
		{"all pass", []item{{Name: "a", Old: p(ok), New: ok}, {Name: "b", Old: p(ok), New: ok}}, check.StatusPass, "all good", []string{"pass", "pass"}},
		{"first deployment passes", []item{{Name: "a", New: ok}}, check.StatusPass, "all good", []string{"pass"}},
		{"regression", []item{{Name: "a", Old: p(ok), New: bad}, {Name: "b", Old: p(ok), New: ok}}, check.StatusFail, "regression: a: broken (OLD: ok)", []string{"regression", "pass"}},
		{"pre-existing", []item{{Name: "a", Old: p(bad), New: bad}}, check.StatusWarn, "pre-existing: fails on OLD too: a: broken", []string{"pre-existing"}},
		{"regression beats pre-existing", []item{{Name: "a", Old: p(bad), New: bad}, {Name: "b", Old: p(ok), New: bad}}, check.StatusFail, "regression: b: broken (OLD: ok); pre-existing: fails on OLD too: a: broken", []string{"pre-existing", "regression"}},
		{"no OLD: a failure is a failure", []item{{Name: "a", New: bad}}, check.StatusFail, "a: broken", []string{"fails"}},
		{"OLD not run: no comparison", []item{{Name: "a", Old: p(none), New: bad}}, check.StatusFail, "a: broken", []string{"fails"}},
		{"one timeout is CAUTION", []item{{Name: "a", Old: p(ok), New: slow}, {Name: "b", Old: p(ok), New: ok}}, check.StatusWarn, "one timeout: regression: a: no answer within 10s", []string{"regression", "pass"}},
		{"two timeouts are NO-GO", []item{{Name: "a", New: slow}, {Name: "b", New: slow}}, check.StatusFail, "a: no answer within 10s; b: no answer", []string{"timeout", "timeout"}},
		{"a timeout and a failure", []item{{Name: "a", New: slow}, {Name: "b", New: bad}}, check.StatusFail, "b: broken; a: no answer", []string{"timeout", "fails"}},
		{"timeout on both is pre-existing", []item{{Name: "a", Old: p(slow), New: slow}}, check.StatusWarn, "pre-existing", []string{"pre-existing"}},
		{"fixed", []item{{Name: "a", Old: p(bad), New: ok}}, check.StatusPass, "all good; fixed since OLD: a: OLD failed: broken", []string{"fixed"}},
		{"not run on NEW", []item{{Name: "a", Old: p(ok), New: none}}, check.StatusSkipped, "not run on NEW: not running", []string{"not run"}},
		{"nameless", []item{{Old: p(ok), New: bad}}, check.StatusFail, "regression: broken (OLD: ok)", []string{"regression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := judge(tc.items, "all good")
			if j.status != tc.status || !strings.Contains(j.message, tc.msg) {
				t.Errorf("judge = %v %q, want %v containing %q", j.status, j.message, tc.status, tc.msg)
			}
			for i, v := range tc.verdicts {
				if tc.items[i].Verdict != v || j.table.Rows[i][3] != v {
					t.Errorf("item %d verdict %q (table %q), want %q", i, tc.items[i].Verdict, j.table.Rows[i][3], v)
				}
			}
		})
	}
}

func TestBinaryOutcome(t *testing.T) {
	entries := map[string]entry{
		"/bin":              {typ: tar.TypeDir, mode: 0o755},
		"/bin/busybox":      {typ: tar.TypeReg, mode: 0o755},
		"/bin/sh":           {typ: tar.TypeSymlink, link: "busybox"},
		"/usr/bin/env":      {typ: tar.TypeSymlink, link: "../../bin/busybox"},
		"/usr/bin/hard":     {typ: tar.TypeLink, link: "/bin/busybox"},
		"/etc/passwd":       {typ: tar.TypeReg, mode: 0o644},
		"/sbin":             {typ: tar.TypeSymlink, link: "/bin"},
		"/usr/bin/dangling": {typ: tar.TypeSymlink, link: "/opt/gone"},
		"/loop/a":           {typ: tar.TypeSymlink, link: "b"},
		"/loop/b":           {typ: tar.TypeSymlink, link: "a"},
		"/dev/null":         {typ: tar.TypeChar, mode: 0o666},
		"/setuid":           {typ: tar.TypeReg, mode: 0o4711},
	}
	for _, tc := range []struct {
		path  string
		state state
		want  string
	}{
		{"/bin/busybox", passed, "executable (mode 0755)"},
		{"bin/busybox", passed, "executable (mode 0755)"},
		{"/bin/sh", passed, "executable (mode 0755) → /bin/busybox"},
		{"/usr/bin/env", passed, "→ /bin/busybox"},
		{"/usr/bin/hard", passed, "→ /bin/busybox"},
		{"/sbin/sh", passed, "→ /bin/busybox"}, // a link in a directory component
		{"/setuid", passed, "executable (mode 4711)"},
		{"/etc/passwd", failed, "not executable (mode 0644)"},
		{"/bin", failed, "a directory"},
		{"/dev/null", failed, "not a regular file"},
		{"/usr/bin/missing", failed, "missing"},
		{"/usr/bin/dangling", failed, "dangling link → /opt/gone"},
		{"/loop/a", failed, "symbolic link loop"},
	} {
		got := binaryOutcome(entries, tc.path)
		if got.State != tc.state || !strings.Contains(got.Detail, tc.want) {
			t.Errorf("%s: %v %q, want %v %q", tc.path, got.State, got.Detail, tc.state, tc.want)
		}
	}
}

func TestDoRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Method", r.Method)
			b := make([]byte, 64)
			n, _ := r.Body.Read(b)
			w.Write([]byte(r.Method + " " + r.Host + " " + r.Header.Get("X-Token") + " " + string(b[:n])))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/moved":
			http.Redirect(w, r, "/echo", http.StatusMovedPermanently)
		default:
			http.Error(w, "no such thing", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ep := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name  string
		req   config.Request
		state state
		want  string
	}{
		{"get", config.Request{Path: "/echo", Expect: "^GET "}, passed, "200 in "},
		{"post with headers and body", config.Request{Method: "post", Path: "/echo", Body: "payload",
			Headers: map[string]string{"X-Token": "t0k", "Host": "app.example"}, Expect: `^POST app\.example t0k payload$`}, passed, "200"},
		{"wrong status", config.Request{Path: "/nope"}, failed, `status 404, want 200: "no such thing"`},
		{"expected status", config.Request{Path: "/nope", Status: 404}, passed, "404"},
		{"wrong body", config.Request{Path: "/echo", Expect: "^hello"}, failed, `the body does not match "^hello": "GET `},
		{"redirect not followed", config.Request{Path: "/moved"}, failed, "status 301, want 200"},
		{"timeout", config.Request{Path: "/slow"}, timedOut, "no answer within 200ms"},
		{"bad pattern", config.Request{Path: "/echo", Expect: "("}, failed, "not a regular expression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := doRequest(context.Background(), ep, tc.req, 200*time.Millisecond)
			if got.State != tc.state || !strings.Contains(got.Detail, tc.want) {
				t.Errorf("doRequest = %v %q, want %v %q", got.State, got.Detail, tc.state, tc.want)
			}
		})
	}
	// Nothing listening: a failure, not a timeout.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if got := doRequest(context.Background(), addr, config.Request{Path: "/"}, time.Second); got.State != failed || !strings.Contains(got.Detail, "refused") {
		t.Errorf("request to a closed port = %v %q", got.State, got.Detail)
	}
}

func TestDialAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	got := dialAll(context.Background(), []config.Dependency{{Name: "db", Address: ln.Addr().String()}, {Address: closedAddr}}, dialHere)
	if got[0].State != passed || !strings.HasPrefix(got[0].Detail, "connected in ") {
		t.Errorf("open port: %+v", got[0])
	}
	if got[1].State != failed || !strings.Contains(got[1].Detail, "refused") {
		t.Errorf("closed port: %+v", got[1])
	}
	if n := dependencyName(config.Dependency{Name: "db", Address: "db:5432"}); n != "db (db:5432)" {
		t.Errorf("dependencyName = %q", n)
	}
}

// TestResultAttachesNoEmptyTable: a judgement with nothing to tabulate (no fatal line in the
// logs) gives a result with no table; it was an untitled table of 0 rows in every report.
func TestResultAttachesNoEmptyTable(t *testing.T) {
	r := result(judgement{status: check.StatusPass, message: "no fatal line in the output"}, nil, true)
	if len(r.Tables) != 0 {
		t.Errorf("tables %+v, want none", r.Tables)
	}
	j := judge([]item{{Name: "line 1", New: fail("panic: boom")}}, "none")
	if r := result(j, nil, true); len(r.Tables) != 1 || r.Tables[0].Title == "" || len(r.Tables[0].Rows) == 0 {
		t.Errorf("tables %+v, want one titled table with rows", r.Tables)
	}
}
