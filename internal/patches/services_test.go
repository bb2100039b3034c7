package patches_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// fakeBuilder records the builds; a Dockerfile whose text says "broken" does not build.
type fakeBuilder struct {
	mu     sync.Mutex
	builds []patches.Build
}

func (b *fakeBuilder) Base(_ context.Context, ref string) (string, error) {
	return "local/" + ref[strings.LastIndex(ref, ":")+1:], nil
}

func (b *fakeBuilder) Build(_ context.Context, bd patches.Build) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.builds = append(b.builds, bd)
	if strings.Contains(string(bd.Text), "broken") {
		return "", errors.New("RUN step failed: exit 1")
	}
	return "docker:" + bd.Tag, nil
}

// TestApplyServices: the image pair is GO; of the three services built on it, "api" is GO and
// rewritten, "jobs" (its own policy) is NO-GO and left alone, "broken" does not build and is
// ERROR, and the compose file running the image itself is rewritten with the pair's GO.
func TestApplyServices(t *testing.T) {
	f := newFixture(t, t0, nil)
	dir := t.TempDir()
	base := f.host + "/base/alpine"
	from := "FROM " + base + ":3.19.1@" + f.digests["3.19.1"]
	write(t, filepath.Join(dir, "api", "Dockerfile"), from+"\nCMD [\"serve\"]\n")
	write(t, filepath.Join(dir, "jobs", "Dockerfile"), "ARG BASE="+base+":3.19.1@"+f.digests["3.19.1"]+"\nFROM ${BASE} AS run\n")
	write(t, filepath.Join(dir, "jobs", patches.ServicePolicyFile), "apiVersion: plimsoll/v1\nkind: Policy\n")
	write(t, filepath.Join(dir, "broken", "Dockerfile"), from+"\nRUN broken\n")
	write(t, filepath.Join(dir, "compose.yaml"), "services:\n  sidecar:\n    image: "+base+":3.19.1@"+f.digests["3.19.1"]+"\n")
	f.dir = dir
	rep := f.find(t, config.Patches{}, t0)

	b := &fakeBuilder{}
	var checks []patches.CheckRequest
	a := &patches.Applier{Builder: b, Ledger: f.ledger, Now: func() time.Time { return t0 },
		LoadPolicy: func(_ context.Context, file string) (*config.Policy, error) { return &config.Policy{}, nil },
		Check: func(_ context.Context, req patches.CheckRequest) (*report.Report, error) {
			checks = append(checks, req)
			d := verdict.Go
			if strings.Contains(req.New, "/jobs:") {
				d = verdict.NoGo
			}
			return &report.Report{RunID: fmt.Sprintf("run-%d", len(checks)), Verdict: verdict.Verdict{Decision: d, Summary: string(d)}}, nil
		}}
	err := a.Apply(t.Context(), rep)
	if err == nil || !strings.Contains(err.Error(), "service broken") {
		t.Errorf("Apply: %v, want the broken service's build error", err)
	}
	o := rep.Images[0].Outcome
	if o == nil || o.Decision != verdict.Go || o.Applied {
		t.Fatalf("outcome %+v, want the pair GO and not every service applied", o)
	}
	got := map[string]string{}
	for _, s := range o.Services {
		got[s.Service] = fmt.Sprintf("%s applied=%v", s.Decision, s.Applied)
	}
	want := map[string]string{"api": "GO applied=true", "jobs": "NO-GO applied=false", "broken": "ERROR applied=false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("services %v, want %v", got, want)
	}
	if d := rep.Decision(); d != verdict.NoGo {
		t.Errorf("decision %s, want NO-GO (a service was)", d)
	}
	// Two builds per service that builds, one for the broken one; each FROM pinned to the base
	// named by the builder, labelled with the base and the CVEs.
	if len(b.builds) != 5 {
		t.Errorf("%d builds, want 5", len(b.builds))
	}
	for _, bd := range b.builds {
		tag := bd.Labels[patches.LabelBaseName][strings.LastIndex(bd.Labels[patches.LabelBaseName], ":")+1:]
		if !strings.Contains(string(bd.Text), "local/"+strings.TrimPrefix(bd.Labels[patches.LabelBaseDigest], "sha256:")) || strings.Contains(string(bd.Text), base) {
			t.Errorf("build of %s on %s:\n%s", bd.Context, tag, bd.Text)
		}
		if bd.Labels[patches.LabelPatchCVEs] != "CVE-2099-1002" {
			t.Errorf("labels %v", bd.Labels)
		}
	}
	if i := slices.IndexFunc(checks, func(c patches.CheckRequest) bool { return strings.Contains(c.New, "/jobs:") }); i < 0 ||
		checks[i].Policy == nil || filepath.Base(checks[i].PolicyFile) != patches.ServicePolicyFile {
		t.Errorf("jobs was not checked with its own policy: %+v", checks)
	}
	// The files: api and compose rewritten, jobs and broken untouched.
	patched := base + ":3.19.4@" + f.digests["3.19.4"]
	for file, rewritten := range map[string]bool{"api/Dockerfile": true, "compose.yaml": true, "jobs/Dockerfile": false, "broken/Dockerfile": false} {
		if got := readText(t, filepath.Join(dir, file)); strings.Contains(got, patched) != rewritten {
			t.Errorf("%s rewritten = %v, want %v:\n%s", file, !rewritten, rewritten, got)
		}
	}
	var text, md strings.Builder
	if err := patches.Write(&text, rep, "text"); err != nil {
		t.Fatal(err)
	}
	if err := patches.Write(&md, rep, "markdown"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"service api (" + filepath.Join(dir, "api", "Dockerfile") + "): GO: applied", "service jobs (", "): NO-GO: not applied: NO-GO",
		"service broken (", "): ERROR: not applied: build on"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text report lacks %q:\n%s", w, text.String())
		}
	}
	if !strings.Contains(md.String(), "| jobs | `"+filepath.Join(dir, "jobs", "Dockerfile")+"` | NO-GO | run-") {
		t.Errorf("markdown report:\n%s", md.String())
	}
	evs, err := f.ledger.PatchEvents(t.Context(), store.PatchFilter{Image: base})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range evs {
		if strings.HasPrefix(e.Note, "service ") {
			notes = append(notes, string(e.Kind)+" "+strings.Fields(e.Note)[1])
		}
	}
	slices.Sort(notes)
	if w := []string{"applied api:", "checked api:", "checked broken:", "checked jobs:"}; !slices.Equal(notes, w) {
		t.Errorf("service events %v, want %v", notes, w)
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplyServicesPairVerdict: short of NO-GO the image pair leaves the services to their own
// checks (the compose file, which runs the image itself, still needs the pair's GO); a NO-GO
// pair builds nothing.
func TestApplyServicesPairVerdict(t *testing.T) {
	for _, pair := range []verdict.Decision{verdict.Caution, verdict.NoGo} {
		f := newFixture(t, t0, nil)
		dir := t.TempDir()
		base := f.host + "/base/alpine"
		compose := "services:\n  sidecar:\n    image: " + base + ":3.19.1@" + f.digests["3.19.1"] + "\n"
		write(t, filepath.Join(dir, "api", "Dockerfile"), "FROM "+base+":3.19.1@"+f.digests["3.19.1"]+"\n")
		write(t, filepath.Join(dir, "compose.yaml"), compose)
		f.dir = dir
		rep := f.find(t, config.Patches{}, t0)
		b := &fakeBuilder{}
		a := &patches.Applier{Builder: b, Ledger: f.ledger, Now: func() time.Time { return t0 },
			Check: func(_ context.Context, req patches.CheckRequest) (*report.Report, error) {
				d := verdict.Go
				if strings.HasPrefix(req.Old, "registry:") {
					d = pair
				}
				return &report.Report{RunID: "run-" + string(d), Verdict: verdict.Verdict{Decision: d, Summary: string(d)}}, nil
			}}
		if err := a.Apply(t.Context(), rep); err != nil {
			t.Fatalf("pair %s: %v", pair, err)
		}
		o := rep.Images[0].Outcome
		wantBuilds, wantServices := 2, 1
		if pair == verdict.NoGo {
			wantBuilds, wantServices = 0, 0
		}
		if len(b.builds) != wantBuilds || len(o.Services) != wantServices {
			t.Errorf("pair %s: %d builds, %d services; want %d, %d", pair, len(b.builds), len(o.Services), wantBuilds, wantServices)
		}
		if pair == verdict.Caution && (!o.Services[0].Applied || o.Applied) {
			t.Errorf("pair CAUTION: api applied %v, all applied %v; want api only", o.Services[0].Applied, o.Applied)
		}
		if got := readText(t, filepath.Join(dir, "compose.yaml")); got != compose {
			t.Errorf("pair %s: compose.yaml rewritten:\n%s", pair, got)
		}
	}
}

// TestApplyServicesProposed: a service whose branch an earlier run made is left for review, not
// rebuilt; the others get theirs, and the patch stays pending until the branches are merged.
func TestApplyServicesProposed(t *testing.T) {
	f := newFixture(t, t0, nil)
	dir := t.TempDir()
	from := "FROM " + f.host + "/base/alpine:3.19.1@" + f.digests["3.19.1"] + "\n"
	write(t, filepath.Join(dir, "api", "Dockerfile"), from)
	write(t, filepath.Join(dir, "jobs", "Dockerfile"), from)
	f.dir = dir
	rep := f.find(t, config.Patches{}, t0)
	b := &fakeBuilder{}
	var proposed []patches.Change
	a := &patches.Applier{Builder: b, Ledger: f.ledger, Now: func() time.Time { return t0 },
		Check: func(_ context.Context, req patches.CheckRequest) (*report.Report, error) {
			return &report.Report{RunID: "run-1", Verdict: verdict.Verdict{Decision: verdict.Go}}, nil
		},
		Propose: func(_ context.Context, c patches.Change) (string, error) {
			proposed = append(proposed, c)
			return "c0ffee", nil
		},
		Proposed: func(_ context.Context, branch string) (string, error) {
			if branch == "plimsoll/patch/api/alpine-3.19.4" {
				return "beefbeefbeefbeef", nil
			}
			return "", nil
		}}
	if err := a.Apply(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	svcs := map[string]*patches.ServiceOutcome{}
	for _, s := range rep.Images[0].Outcome.Services {
		svcs[s.Service] = s
	}
	if s := svcs["api"]; s.Applied || s.Commit != "beefbeefbeefbeef" || !strings.Contains(s.Reason, "already proposed") {
		t.Errorf("api: %+v, want left for review", s)
	}
	if s := svcs["jobs"]; !s.Applied || s.Branch != "plimsoll/patch/jobs/alpine-3.19.4" || s.Commit != "c0ffee" {
		t.Errorf("jobs: %+v, want proposed", s)
	}
	if len(b.builds) != 2 || len(proposed) != 1 || !strings.Contains(proposed[0].Message, "CVE-2099-1002") {
		t.Errorf("%d builds, %d proposals %+v; want jobs' 2 builds and its one branch", len(b.builds), len(proposed), proposed)
	}
	if d := rep.Decision(); d != verdict.Caution {
		t.Errorf("decision %s, want CAUTION (pending review)", d)
	}
}
