package patches_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/patches/patchestest"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

// fixture is a registry holding the test line and a repository using it.
type fixture struct {
	host    string
	line    patchestest.Line
	digests map[string]string // tag → digest, of base/alpine
	dir     string            // the repository
	ledger  store.Store
	db      string
}

// newFixture pushes base/alpine 3.19.1 (old), 3.19.4 (patched), 3.20.3 (next) and 3.19 twice
// (old, then patched), and bad/alpine 3.19.1 (old), 3.19.4 (bad); the repository pins
// base/alpine:3.19.1 and base/alpine:3.19 (to the first push) in one Dockerfile and
// bad/alpine:3.19.1 in another.
func newFixture(t *testing.T, created time.Time, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	f := &fixture{host: testenv.Registry(t, wrap), line: patchestest.Images(t, created), digests: map[string]string{}}
	base, bad := f.host+"/base/alpine", f.host+"/bad/alpine"
	f.digests["3.19.1"] = patchestest.Push(t, base+":3.19.1", f.line.Old)
	f.digests["3.19.4"] = patchestest.Push(t, base+":3.19.4", f.line.Patched)
	f.digests["3.20.3"] = patchestest.Push(t, base+":3.20.3", f.line.Next)
	old319 := patchestest.Push(t, base+":3.19", f.line.Old)
	f.digests["3.19"] = patchestest.Push(t, base+":3.19", f.line.Patched)
	patchestest.Push(t, bad+":3.19.1", f.line.Old)
	f.digests["bad 3.19.4"] = patchestest.Push(t, bad+":3.19.4", f.line.Bad)
	f.dir = t.TempDir()
	write(t, filepath.Join(f.dir, "app", "Dockerfile"),
		"FROM "+base+":3.19.1@"+f.digests["3.19.1"]+" AS build\nRUN true\nFROM "+base+":3.19@"+old319+"\n")
	write(t, filepath.Join(f.dir, "worker", "Dockerfile"), "FROM "+bad+":3.19.1\n")
	var err error
	if f.ledger, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "plimsoll.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.ledger.Close() })
	f.db = patchestest.VulnDB(t)
	return f
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) finder(pol config.Patches, now time.Time) *patches.Finder {
	return &patches.Finder{
		Registry: patches.Registry{Timeout: 10 * time.Second},
		Policy:   pol, Vulns: patchestest.Vulns(f.db), Ledger: f.ledger,
		Now: func() time.Time { return now },
	}
}

func (f *fixture) find(t *testing.T, pol config.Patches, now time.Time) *patches.Report {
	t.Helper()
	refs, _, err := inventory.Find(t.Context(), []string{f.dir})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.finder(pol, now).Find(t.Context(), refs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// summary is what a test asserts of a report: per image, its candidates.
type cand struct {
	Tag, Kind, Digest string
	Fixed, Introduced []string
	Eligible          bool
	Since             time.Time
}

func summary(rep *patches.Report) map[string][]cand {
	out := map[string][]cand{}
	for _, im := range rep.Images {
		key := im.Repository[strings.Index(im.Repository, "/")+1:] + ":" + im.Tag
		out[key] = []cand{}
		for _, c := range im.Candidates {
			out[key] = append(out[key], cand{c.Tag, string(c.Kind), c.Digest, c.Fixed, c.Introduced, c.Eligible, c.AvailableSince})
		}
	}
	return out
}

func TestFindWithTimestamps(t *testing.T) {
	created := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, created, nil)
	rep := f.find(t, config.Patches{}, t0)
	day2 := created.Add(24 * time.Hour)
	want := map[string][]cand{
		// 3.19.4 is the patch; 3.20.3 is another release, 3.19 another precision
		"base/alpine:3.19.1": {{"3.19.4", "tag", f.digests["3.19.4"], []string{"CVE-2099-1002"}, []string{}, true, day2}},
		// the tag was pushed again
		"base/alpine:3.19":  {{"3.19", "digest", f.digests["3.19"], []string{"CVE-2099-1002"}, []string{}, true, day2}},
		"bad/alpine:3.19.1": {{"3.19.4", "tag", f.digests["bad 3.19.4"], []string{"CVE-2099-1002"}, []string{"CVE-2099-1007", "CVE-2099-1008"}, true, day2}},
	}
	if d := cmp.Diff(want, summary(rep)); d != "" {
		t.Errorf("candidates (-want +got):\n%s", d)
	}
	// Every patch is in the ledger as seen, once, however often it is found.
	f.find(t, config.Patches{}, t0.Add(time.Hour))
	seen, err := f.ledger.PatchEvents(t.Context(), store.PatchFilter{Kind: store.PatchSeen})
	if err != nil {
		t.Fatal(err)
	}
	// base/alpine:3.19 was pushed again as the image of 3.19.4: one patch, seen once.
	if len(seen) != 2 {
		t.Errorf("%d seen events, want 2: %+v", len(seen), seen)
	}
	for _, e := range seen {
		if !e.Time.Equal(t0) {
			t.Errorf("seen %s at %v, want the first search's %v", e.ToRef, e.Time, t0)
		}
	}
	// With line: minor the 3.20 release is still another distribution release.
	if d := cmp.Diff(want, summary(f.find(t, config.Patches{Line: "minor"}, t0))); d != "" {
		t.Errorf("line minor (-want +got):\n%s", d)
	}
	golden(t, rep, f.host, f.dir)
}

func TestFindWithoutTimestamps(t *testing.T) {
	f := newFixture(t, time.Time{}, nil)
	// Nothing counts by what it fixes; any patch is eligible after 14 days.
	pol := config.Patches{Eligible: config.PatchEligibility{Fixes: "none", OlderThanDays: 14}}
	rep := f.find(t, pol, t0)
	for _, im := range rep.Images {
		for _, c := range im.Candidates {
			if !c.Created.IsZero() || !c.AvailableSince.Equal(t0) || c.Eligible {
				t.Errorf("%s first search: created %v, available since %v, eligible %v (%s); want no creation time, since %v, not eligible",
					c.Ref, c.Created, c.AvailableSince, c.Eligible, c.Why, t0)
			}
		}
	}
	later := t0.Add(15 * 24 * time.Hour)
	rep = f.find(t, pol, later)
	n := 0
	for _, im := range rep.Images {
		for _, c := range im.Candidates {
			n++
			if !c.AvailableSince.Equal(t0) || !c.Eligible || !strings.Contains(c.Why, "available for 15 days") {
				t.Errorf("%s 15 days later: available since %v, eligible %v (%s); want since %v (first seen), eligible",
					c.Ref, c.AvailableSince, c.Eligible, c.Why, t0)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d candidates, want 3", n)
	}
}

func TestFindStalledRegistry(t *testing.T) {
	stall := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				select { // a registry that never answers the listing
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, time.Time{}, stall)
	refs, _, err := inventory.Find(t.Context(), []string{f.dir})
	if err != nil {
		t.Fatal(err)
	}
	fd := f.finder(config.Patches{}, t0)
	fd.Registry.Timeout = 500 * time.Millisecond
	start := time.Now()
	rep, err := fd.Find(t.Context(), refs)
	took := time.Since(start)
	if !errors.Is(err, patches.ErrTimeout) || !strings.Contains(err.Error(), "list tags of "+f.host+"/base/alpine") {
		t.Errorf("error = %v, want ErrTimeout naming the listing", err)
	}
	if took > time.Minute { // unbounded, the stalled listing would hold it until the test's timeout
		t.Errorf("took %s for three images with a 500ms timeout", took)
	}
	if rep == nil || len(rep.Images) != 3 || rep.Images[0].Error == "" {
		t.Fatalf("report %+v: want three images, each with its error", rep)
	}
	t.Logf("stalled registry: %s, %v", took, err)
}

// golden compares the report's renderings with testdata/find.*, the registry's address and
// the repository's directory redacted.
func golden(t *testing.T, rep *patches.Report, host, dir string) {
	t.Helper()
	for _, format := range patches.Formats {
		var buf bytes.Buffer
		if err := patches.Write(&buf, rep, format); err != nil {
			t.Fatal(err)
		}
		got := strings.ReplaceAll(strings.ReplaceAll(buf.String(), host, "REGISTRY"), dir, "REPO")
		path := filepath.Join("testdata", "find."+map[string]string{"text": "txt", "json": "json", "markdown": "md"}[format])
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if d := cmp.Diff(string(want), got); d != "" {
			t.Errorf("%s differs from %s (-want +got):\n%s", format, path, d)
		}
	}
}

// TestApplyGuards covers what --apply does without running a check: outside the windows,
// without approvals, and for a declined patch. The check is a recording double: it must not
// be called.
func TestApplyGuards(t *testing.T) {
	f := newFixture(t, time.Time{}, nil)
	before := snapshot(t, f.dir)
	checked := 0
	noCheck := func(context.Context, patches.CheckRequest) (*report.Report, error) {
		checked++
		return nil, errors.New("the check must not run")
	}
	tests := []struct {
		name   string
		pol    config.Patches
		by     []string
		except map[string]string
		reason string
	}{
		{"outside the window", config.Patches{Windows: []config.Window{{Days: []string{"sat"}, Start: "02:00", End: "04:00"}}},
			nil, nil, "not applied: outside the maintenance windows (sat 02:00-04:00 UTC)"},
		{"approvals missing", config.Patches{Approvals: config.Approvals{From: []string{"alice"}, Count: 2}},
			[]string{"bob"}, nil, "not applied: needs the approval of alice; needs 2 approvals, has 1"},
	}
	for _, tc := range tests {
		rep := f.find(t, tc.pol, t0)
		a := &patches.Applier{Policy: tc.pol, Approvers: tc.by, Check: noCheck, Ledger: f.ledger, Now: func() time.Time { return t0 }}
		if err := a.Apply(t.Context(), rep); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, im := range rep.Images {
			if im.Outcome == nil || im.Outcome.Applied || im.Outcome.Reason != tc.reason {
				t.Errorf("%s: %s outcome %+v, want %q", tc.name, im.Repository, im.Outcome, tc.reason)
			}
		}
		if d := rep.Decision(); d != verdict.Caution {
			t.Errorf("%s: decision %s, want CAUTION (patches pending)", tc.name, d)
		}
	}
	// Declining every patch records exceptions and leaves nothing pending.
	rep := f.find(t, config.Patches{}, t0)
	a := &patches.Applier{Check: noCheck, Ledger: f.ledger, Now: func() time.Time { return t0 },
		Except: map[string]string{"3.19.4": "waits for the vendor's rebuild", f.host + "/base/alpine:3.19": "frozen"}}
	if err := a.Apply(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	if d := rep.Decision(); d != verdict.Go {
		t.Errorf("decision after declining everything: %s, want GO", d)
	}
	exc, err := f.ledger.PatchEvents(t.Context(), store.PatchFilter{Kind: store.PatchException})
	if err != nil {
		t.Fatal(err)
	}
	if len(exc) != 3 || exc[0].Note == "" {
		t.Errorf("exceptions recorded: %+v, want 3 with notes", exc)
	}
	if checked != 0 {
		t.Errorf("the check ran %d times", checked)
	}
	if d := cmp.Diff(before, snapshot(t, f.dir)); d != "" {
		t.Errorf("files changed (-before +after):\n%s", d)
	}
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
