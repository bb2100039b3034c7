// Package serve is plimsoll's read-only web UI and JSON API over the store of runs: the list of
// runs with their verdicts, one run's report (the same self-contained page `check` writes as
// report.html), and trends per image repository (verdicts over time, p95 latency and RSS over
// versions). It only reads: every method but GET and HEAD is refused.
//
// When a token is set, every request must carry it ("Authorization: Bearer TOKEN", or once as
// "?token=TOKEN", which sets a cookie so the links of the pages work); the command requires
// one whenever it listens beyond loopback.
package serve

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/plimsoll/plimsoll/internal/ledger"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// cookieName holds the token in the browser after a "?token=" visit.
const cookieName = "plimsoll_token"

// maxList caps the runs one list page or API answer shows.
const maxList = 500

// MinTokenLen is the fewest non-space characters a token may have: a shorter one is guessed
// by anyone who can reach the port, and one of spaces is what an empty variable expands to.
const MinTokenLen = 16

// ErrWeakToken: the token is too short to protect anything.
var ErrWeakToken = errors.New("token too weak")

// CheckToken says why tok may not guard a server: it needs at least MinTokenLen characters that
// are not spaces (leading or trailing white space is what a bad paste or an unset variable
// leaves, so it is refused too).
func CheckToken(tok string) error {
	n := 0
	for _, r := range tok {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	if n < MinTokenLen {
		return fmt.Errorf("%w: it has %d non-space characters, at least %d are needed so that it cannot be guessed", ErrWeakToken, n, MinTokenLen)
	}
	if strings.TrimSpace(tok) != tok {
		return fmt.Errorf("%w: it starts or ends with white space", ErrWeakToken)
	}
	return nil
}

// Options configure a Handler.
type Options struct {
	// Token, when set, is required on every request; callers check it with CheckToken first.
	Token string
	// Log receives one line per failed request; nil discards.
	Log *slog.Logger
	// RegressionWindow is how long after a patch a rollback counts against it on the ledger
	// page (the policy's patches.regressionWindow).
	RegressionWindow time.Duration
}

// Handler serves the UI and the API over st, which it does not close.
func Handler(st store.Store, o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{st: st, log: o.Log, window: o.RegressionWindow}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.runsPage)
	mux.HandleFunc("GET /runs/{id}", s.runPage)
	mux.HandleFunc("GET /trends", s.trendsPage)
	mux.HandleFunc("GET /api/runs", s.runsAPI)
	mux.HandleFunc("GET /api/runs/{id}", s.runAPI)
	mux.HandleFunc("GET /api/trends", s.trendsAPI)
	mux.HandleFunc("GET /ledger", s.ledgerPage)
	mux.HandleFunc("GET /api/ledger", s.ledgerAPI)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return readOnly(withToken(o.Token, secureHeaders(mux)))
}

type server struct {
	st     store.Store
	log    *slog.Logger
	window time.Duration
}

// readOnly refuses every method but GET and HEAD.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withToken admits a request carrying token as a bearer header or cookie; "?token=" on a page
// sets the cookie and redirects to the same page without it, so the token leaves the address bar.
func withToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); len(h) > 7 && h[:7] == "Bearer " && ok(h[7:]) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") && ok(q.Get("token")) {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="plimsoll"`)
		http.Error(w, "a token is required", http.StatusUnauthorized)
	})
}

// secureHeaders forbids the pages from fetching anything: they are self-contained.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// filter reads the run filter of a list request: image, decision, since (a duration back from
// now), limit.
func filter(r *http.Request, now time.Time) (store.Filter, error) {
	q := r.URL.Query()
	f := store.Filter{Image: q.Get("image"), Limit: maxList}
	if d := q.Get("decision"); d != "" {
		switch dec := verdict.Decision(strings.ToUpper(d)); dec {
		case verdict.Go, verdict.Caution, verdict.NoGo, verdict.Error:
			f.Decision = dec
		default:
			return f, fmt.Errorf("decision %q: want GO, CAUTION, NO-GO or ERROR", d)
		}
	}
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return f, fmt.Errorf("since %q: want a positive duration such as 72h", s)
		}
		f.Since = now.Add(-d)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > maxList {
			return f, fmt.Errorf("limit %q: want 1 to %d", l, maxList)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *server) runsAPI(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.runs(w, r); ok {
		if v.Runs == nil {
			v.Runs = []store.RunSummary{}
		}
		writeJSON(w, v.Runs)
	}
}

// runs answers the run filter of a list request with the matching runs; a bad filter is a 400.
func (s *server) runs(w http.ResponseWriter, r *http.Request) (runsView, bool) {
	f, err := filter(r, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return runsView{}, false
	}
	runs, err := s.st.ListRuns(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return runsView{}, false
	}
	return runsView{Filter: f, Runs: runs}, true
}

func (s *server) runAPI(w http.ResponseWriter, r *http.Request) {
	s.run(w, r, report.JSON{}, "application/json")
}

func (s *server) runPage(w http.ResponseWriter, r *http.Request) {
	s.run(w, r, report.HTML{}, "text/html; charset=utf-8")
}

// run answers with the report of the run the path names, encoded by enc.
func (s *server) run(w http.ResponseWriter, r *http.Request, enc report.Encoder, contentType string) {
	rep, err := s.st.GetRun(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := enc.Encode(&b, rep); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b.Bytes())
}

func (s *server) runsPage(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.runs(w, r); ok {
		s.page(w, r, "runs", v)
	}
}

func (s *server) trendsAPI(w http.ResponseWriter, r *http.Request) {
	t, ok := s.trend(w, r)
	if ok {
		writeJSON(w, t)
	}
}

func (s *server) trendsPage(w http.ResponseWriter, r *http.Request) {
	t, ok := s.trend(w, r)
	if ok {
		s.page(w, r, "trends", trendsView{Trend: t, Charts: t.charts()})
	}
}

func (s *server) trend(w http.ResponseWriter, r *http.Request) (Trend, bool) {
	repo := r.URL.Query().Get("image")
	if repo == "" {
		http.Error(w, "image: give an image repository, e.g. ?image=registry.example.com/shop/api", http.StatusBadRequest)
		return Trend{}, false
	}
	t, err := Trends(r.Context(), s.st, store.Repository(repo))
	if err != nil {
		s.fail(w, r, err)
		return Trend{}, false
	}
	return t, true
}

func (s *server) ledgerAPI(w http.ResponseWriter, r *http.Request) {
	if l, ok := s.ledger(w, r); ok {
		writeJSON(w, l)
	}
}

func (s *server) ledgerPage(w http.ResponseWriter, r *http.Request) {
	if l, ok := s.ledger(w, r); ok {
		s.page(w, r, "ledger", l)
	}
}

// ledger computes the patch ledger from the store, over the last ?since=DURATION or all time.
func (s *server) ledger(w http.ResponseWriter, r *http.Request) (ledger.Report, bool) {
	f, err := filter(r, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return ledger.Report{}, false
	}
	in, err := ledger.Read(r.Context(), s.st, ledger.Input{Since: f.Since, Now: time.Now(), RegressionWindow: s.window})
	if err != nil {
		s.fail(w, r, err)
		return ledger.Report{}, false
	}
	return ledger.Compute(in), true
}

func (s *server) page(w http.ResponseWriter, r *http.Request, name string, v any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// fail answers 404 for an unknown run and 500 otherwise, logging the cause but sending only a
// generic line (the store's errors may name the database).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no such run", http.StatusNotFound)
		return
	}
	s.log.Error("serve", "path", r.URL.Path, "err", err)
	http.Error(w, "the store could not answer; see the server's log", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type runsView struct {
	Filter store.Filter
	Runs   []store.RunSummary
}

type trendsView struct {
	Trend  Trend
	Charts []template.HTML
}
