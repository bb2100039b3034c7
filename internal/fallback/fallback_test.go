package fallback

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// refused is a loopback address nothing listens on: a registry that is down.
const refused = "127.0.0.1:1"

// push writes a new random image to ref and returns its digest.
func push(t *testing.T, ref string) string {
	t.Helper()
	return signtest.Push(t, ref, signtest.RandomImage(t)).Digest.String()
}

// copyTo writes the image at src (a digest reference) to dst, keeping its digest.
func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	img := signtest.Resolve(t, "registry:"+src)
	if got := signtest.Push(t, dst, img.Img).Digest; got != img.Digest {
		t.Fatalf("copy of %s to %s has digest %s", src, dst, got)
	}
}

// runStore is a real SQLite store holding runs.
type runStore struct {
	store.Store
	t *testing.T
}

func newStore(t *testing.T) runStore {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return runStore{st, t}
}

// put records a run of newRef (as the run's report names it) pinned to digest.
func (s runStore) put(id, newRef, digest string, d verdict.Decision, day int) {
	s.t.Helper()
	start := time.Date(2026, 11, day, 10, 0, 0, 0, time.UTC)
	err := s.PutRun(s.t.Context(), &report.Report{
		SchemaVersion: report.SchemaVersion, RunID: id, StartedAt: start, FinishedAt: start.Add(time.Minute),
		New:     report.Subject{Ref: newRef, Transport: "registry", Digest: digest},
		Verdict: verdict.Verdict{Decision: d, Summary: string(d)},
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

func signer(t *testing.T) (*signtest.Signer, *sign.Verifier) {
	t.Helper()
	s := signtest.NewKeySigner(t)
	v, err := sign.NewVerifier(config.Signature{Key: s.PubPath}, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func signAt(t *testing.T, repo, digest string, s *signtest.Signer) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	signtest.SignClassic(t, r, h, h, s)
}

func TestFindMirror(t *testing.T) {
	origin, mirror := signtest.StartRegistry(t, false), signtest.StartRegistry(t, false)
	d := push(t, origin+"/app:1")
	copyTo(t, origin+"/app@"+d, mirror+"/cache/app:1")
	f := &Finder{Mirrors: map[string][]string{origin: {refused, mirror + "/cache"}}}

	got, rejected, err := f.Find(t.Context(), origin+"/app:1", d, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Candidate{Ref: mirror + "/cache/app@" + d, Source: "mirror " + mirror + "/cache (same digest)", Digest: d}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidate (-want +got):\n%s", diff)
	}
	if len(rejected) != 1 || rejected[0].Ref != refused+"/app@"+d || !strings.HasPrefix(rejected[0].Why, "cannot be read: ") {
		t.Errorf("rejected = %+v, want the refused mirror, unreadable", rejected)
	}

	// By tag, the digest unknown: the mirror's tag is resolved and pinned.
	got, _, err = f.Find(t.Context(), origin+"/app:1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	want.Source = "mirror " + mirror + "/cache (same tag, digest not pinned)"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("by tag (-want +got):\n%s", diff)
	}
}

func TestFindKnownGood(t *testing.T) {
	origin, mirror := signtest.StartRegistry(t, false), signtest.StartRegistry(t, false)
	good := push(t, origin+"/app:1.0")
	newer := push(t, origin+"/app:1.1")
	broken := push(t, origin+"/app:1.2")
	other := push(t, origin+"/other:1")
	st := newStore(t)
	st.put("r-good", "registry:"+origin+"/app:1.0", good, verdict.Go, 18)
	st.put("r-nogo", "registry:"+origin+"/app:1.1", newer, verdict.NoGo, 19)
	st.put("r-other", origin+"/other:1", other, verdict.Go, 20)
	st.put("r-broken", origin+"/app:1.2", broken, verdict.Go, 21) // the failing digest itself
	f := &Finder{Mirrors: map[string][]string{origin: {mirror}}, Runs: st}

	got, rejected, err := f.Find(t.Context(), origin+"/app@"+broken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Candidate{Ref: origin + "/app@" + good, Source: "last known-good: run r-good, GO on 2026-11-18", Digest: good}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidate (-want +got):\n%s", diff)
	}
	wantRej := []Rejected{{Ref: mirror + "/app@" + broken, Source: "mirror " + mirror + " (same digest)", Why: "no such digest in this registry"}}
	if diff := cmp.Diff(wantRej, rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
}

func TestFindSignatureAtMirror(t *testing.T) {
	origin, unsigned, mirror := signtest.StartRegistry(t, false), signtest.StartRegistry(t, false), signtest.StartRegistry(t, false)
	d := push(t, origin+"/app:1")
	copyTo(t, origin+"/app@"+d, unsigned+"/app:1")
	copyTo(t, origin+"/app@"+d, mirror+"/app:1")
	s, v := signer(t)
	signAt(t, mirror+"/app", d, s)
	f := &Finder{Mirrors: map[string][]string{origin: {unsigned, mirror}}, Verifier: v}

	// The signature failed at the origin (there is none): avoid names that digest, and the
	// mirror's copy is offered only because its signature verifies there.
	got, rejected, err := f.Find(t.Context(), origin+"/app:1", d, d)
	if err != nil {
		t.Fatal(err)
	}
	want := Candidate{Ref: mirror + "/app@" + d, Source: "mirror " + mirror + " (same digest)", Digest: d,
		Signature: "1 of 1 signatures verify with key " + s.PubPath}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidate (-want +got):\n%s", diff)
	}
	if len(rejected) != 1 || rejected[0].Ref != unsigned+"/app@"+d || !strings.HasPrefix(rejected[0].Why, "signature: no signatures found") {
		t.Errorf("rejected = %+v, want the unsigned mirror", rejected)
	}
}

func TestFindNone(t *testing.T) {
	origin, mirror := signtest.StartRegistry(t, false), signtest.StartRegistry(t, false)
	d := push(t, origin+"/app:2")
	good := push(t, origin+"/app:1") // known good, but unsigned
	gone := "sha256:" + strings.Repeat("c", 64)
	st := newStore(t)
	st.put("r1", origin+"/app:1", good, verdict.Go, 10)
	st.put("r0", origin+"/app:0", gone, verdict.Go, 9)
	_, v := signer(t)
	f := &Finder{Mirrors: map[string][]string{origin: {refused, mirror}}, Runs: st, Verifier: v}

	_, rejected, err := f.Find(t.Context(), origin+"/app:2", d, "")
	if !errors.Is(err, ErrNoFallback) {
		t.Fatalf("err = %v, want ErrNoFallback", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "8 candidates rejected") {
		t.Errorf("error is not a one-line summary of 8 rejections: %v", err)
	}
	wantWhy := []struct{ ref, why string }{
		{refused + "/app@" + d, "cannot be read: "},
		{mirror + "/app@" + d, "no such digest in this registry"},
		{origin + "/app@" + good, "signature: no signatures found"},
		{refused + "/app@" + good, "cannot be read: "},
		{mirror + "/app@" + good, "no such digest in this registry"},
		{origin + "/app@" + gone, "no such digest in this registry"},
		{refused + "/app@" + gone, "cannot be read: "},
		{mirror + "/app@" + gone, "no such digest in this registry"},
	}
	if len(rejected) != len(wantWhy) {
		t.Fatalf("rejected %d: %+v", len(rejected), rejected)
	}
	for i, w := range wantWhy {
		if rejected[i].Ref != w.ref || !strings.HasPrefix(rejected[i].Why, w.why) {
			t.Errorf("rejected[%d] = %+v, want %s: %s…", i, rejected[i], w.ref, w.why)
		}
		if !strings.Contains(err.Error(), rejected[i].Ref+" ("+rejected[i].Source+"): "+w.why) {
			t.Errorf("summary lacks rejection %d: %v", i, err)
		}
	}

	_, rejected, err = (&Finder{}).Find(t.Context(), origin+"/app:2", "", "")
	if !errors.Is(err, ErrNoFallback) || len(rejected) != 0 ||
		!strings.HasSuffix(err.Error(), "no mirror is configured for "+origin+" and no run store to find a known-good digest in") {
		t.Errorf("zero Finder: %v, %v", rejected, err)
	}
}

func TestFindAvoid(t *testing.T) {
	origin := signtest.StartRegistry(t, false)
	older := push(t, origin+"/app:1")
	avoid := push(t, origin+"/app:2")
	st := newStore(t)
	st.put("r-older", origin+"/app:1", older, verdict.Go, 1)
	st.put("r-avoid", "registry:"+origin+"/app:2", avoid, verdict.Go, 2)
	f := &Finder{Runs: st}

	got, rejected, err := f.Find(t.Context(), origin+"/app:3", "", "")
	if err != nil || got.Digest != avoid {
		t.Fatalf("without avoid: %+v, %v; want the newest known-good %s", got, err, avoid)
	}
	got, rejected, err = f.Find(t.Context(), origin+"/app:3", "", avoid)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != older || got.Ref != origin+"/app@"+older || len(rejected) != 0 {
		t.Errorf("with avoid: %+v, rejected %+v; want %s, nothing rejected", got, rejected, older)
	}
	if _, _, err := f.Find(t.Context(), origin+"/app:3", "", older+"x"); !errors.Is(err, image.ErrBadReference) {
		t.Errorf("malformed avoid: %v, want ErrBadReference", err)
	}
	if _, _, err := f.Find(t.Context(), "http://"+origin+"/app:3", "", ""); !errors.Is(err, image.ErrBadReference) {
		t.Errorf("malformed ref: %v, want ErrBadReference", err)
	}
}

func TestFindStalledRegistry(t *testing.T) {
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(stall.Close)
	stalled := strings.TrimPrefix(stall.URL, "http://")
	origin := signtest.StartRegistry(t, false)
	good := push(t, origin+"/app:1")
	st := newStore(t)
	st.put("r1", origin+"/app:1", good, verdict.Go, 1)
	f := &Finder{Mirrors: map[string][]string{origin: {stalled}}, Runs: st, Timeout: 300 * time.Millisecond}

	start := time.Now()
	got, rejected, err := f.Find(t.Context(), origin+"/app:2", "sha256:"+strings.Repeat("d", 64), "")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second { // unbounded, the stalled mirror would hold it until the test's timeout
		t.Errorf("Find took %s with a 300ms bound per candidate", took)
	}
	if got.Digest != good {
		t.Errorf("candidate %+v, want the known-good %s", got, good)
	}
	want := []Rejected{{Ref: stalled + "/app@sha256:" + strings.Repeat("d", 64), Source: "mirror " + stalled + " (same digest)", Why: "no answer within 300ms"}}
	if diff := cmp.Diff(want, rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}

	// The caller's own deadline is an error, not a rejection.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	f.Timeout = time.Minute
	if _, _, err := f.Find(ctx, origin+"/app:2", "sha256:"+strings.Repeat("d", 64), ""); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNoFallback) {
		t.Errorf("caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", Offer, false},
		{"offer", Offer, false},
		{"apply", Apply, false},
		{"off", Off, false},
		{"Apply", "", true},
		{"on", "", true},
	}
	for _, tc := range tests {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrUnknownMode)) {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, m := range config.FallbackModes {
		if _, err := ParseMode(m); err != nil {
			t.Errorf("the policy's mode %q: %v", m, err)
		}
	}
}
