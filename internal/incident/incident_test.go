package incident

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeClock returns t0, t0+step, t0+2*step, … on successive calls.
func fakeClock(t0 time.Time, step time.Duration) func() time.Time {
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n-1) * step) }
}

var t0 = time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)

func TestRecorder(t *testing.T) {
	r := NewRecorder(fakeClock(t0, 500*time.Millisecond), store.Incident{Kind: store.IncidentRollback, Namespace: "shop", Workload: "deploy/api"})
	r.Add("rollback started")
	r.Addf("patched to revision %d", 2)
	r.Update(func(i *store.Incident) { i.FromImage, i.ToImage = "api:2", "api:1" })
	got := r.Incident()
	if got.StartedAt != t0 {
		t.Errorf("StartedAt = %v, want %v", got.StartedAt, t0)
	}
	if !strings.HasPrefix(got.ID, "20261124T170000Z-deploy-api-") {
		t.Errorf("ID = %q", got.ID)
	}
	if len(got.Timeline) != 2 || got.Timeline[1].What != "patched to revision 2" || got.Timeline[1].Time != t0.Add(time.Second) {
		t.Errorf("Timeline = %+v", got.Timeline)
	}
	if got.EndedAt != t0.Add(time.Second) {
		t.Errorf("EndedAt before End = %v, want the last event", got.EndedAt)
	}
	if got.FromImage != "api:2" || got.ToImage != "api:1" {
		t.Errorf("Update lost: %+v", got)
	}
	got.Timeline[0].What = "changed by the caller"
	r.End()
	again := r.Incident()
	if again.Timeline[0].What != "rollback started" {
		t.Error("Incident returned a timeline shared with the recorder")
	}
	if again.EndedAt != t0.Add(1500*time.Millisecond) {
		t.Errorf("EndedAt after End = %v", again.EndedAt)
	}
}

func TestRecorderIDsDiffer(t *testing.T) {
	a := NewRecorder(nil, store.Incident{Workload: "deploy/api"}).Incident().ID
	b := NewRecorder(nil, store.Incident{Workload: "deploy/api"}).Incident().ID
	if a == b {
		t.Errorf("two incidents got the same ID %q", a)
	}
}

func TestMarkdownGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		inc  store.Incident
	}{
		{"rollback", store.Incident{
			ID: "20261124T170000Z-deploy-api-abc123", Kind: store.IncidentRollback, Namespace: "shop", Workload: "deploy/api",
			FromImage: "registry.example.com/shop/api:2.4.0", ToImage: "registry.example.com/shop/api:2.3.9",
			Reason: "p95 latency doubled after the release", StartedAt: t0, EndedAt: t0.Add(4200 * time.Millisecond),
			Timeline: []store.IncidentEvent{
				{Time: t0, What: "rollback of deploy/api requested"},
				{Time: t0.Add(150 * time.Millisecond), What: "patched deploy/api to revision 2 (attempt 1)"},
				{Time: t0.Add(3900 * time.Millisecond), What: "revision 4 Available"},
				{Time: t0.Add(4200 * time.Millisecond), What: "verified: 3/3 pods Ready"},
			},
		}},
		{"aborted-hostile", store.Incident{
			ID: "x", Kind: store.IncidentAbortedRollout, Workload: "deploy/w`eb",
			FromImage: "web:`2`", Reason: "line one\nline two | with a pipe", StartedAt: t0,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Markdown(tc.inc)
			path := filepath.Join("testdata", tc.name+".md")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Markdown differs from %s (run with -update after checking):\n%s", path, got)
			}
		})
	}
}

func TestMarkdownSections(t *testing.T) {
	md := Markdown(store.Incident{Kind: store.IncidentRollback, Workload: "deploy/a"})
	for _, h := range []string{"## Summary", "## Impact", "## Timeline (UTC)", "## Root cause / trigger", "## Actions taken", "## Follow-ups"} {
		if !strings.Contains(md, "\n"+h+"\n") {
			t.Errorf("missing section %q", h)
		}
	}
}

func FuzzMarkdown(f *testing.F) {
	f.Add("deploy/api", "api:2", "reason\nwith newline", "```")
	f.Add("", "", "", "")
	f.Add("w`", "`", "# heading", "\r\n## Impact")
	f.Fuzz(func(t *testing.T, workload, image, reason, event string) {
		md := Markdown(store.Incident{Kind: store.IncidentRollback, Workload: workload, FromImage: image, Reason: reason,
			StartedAt: t0, Timeline: []store.IncidentEvent{{Time: t0, What: event}}})
		// Whatever the input, the six sections stay the only level-2 headings.
		n := 0
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "## ") {
				n++
			}
		}
		if n != 6 {
			t.Fatalf("%d level-2 headings, want 6:\n%s", n, md)
		}
	})
}
