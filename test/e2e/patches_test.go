package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// serveForever is a service's main process: it runs until it is told to stop.
const serveForever = `touch /tmp/ready; trap 'exit 0' TERM INT; while :; do sleep 1; done`

// The services of the test repository, each a Dockerfile FROM Alpine 3.19.4.
var patchServices = map[string]string{
	// api copies its start script in.
	"api/Dockerfile": "FROM @BASE@\nCOPY start.sh /start.sh\nCMD [\"/bin/sh\", \"/start.sh\"]\n",
	"api/start.sh":   serveForever + "\n",
	// worker runs a build step on the base, and names it through an ARG.
	"worker/Dockerfile": "ARG BASE=@BASE@\nFROM ${BASE}\nRUN mkdir -p /var/lib/worker && echo ready > /var/lib/worker/state\n" +
		"CMD [\"/bin/sh\", \"-c\", \"test -s /var/lib/worker/state && " + serveForever + "\"]\n",
	// certs issues certificates with openssl's CA.pl, which Alpine 3.19 ships in libcrypto3
	// (/etc/ssl/misc/CA.pl) and Alpine 3.20 moved out of the base image (to openssl-misc):
	// on the 3.20.3 base it stops at once.
	"certs/Dockerfile": "FROM @BASE@\nCMD [\"/bin/sh\", \"-c\", \"test -f /etc/ssl/misc/CA.pl || { echo 'fatal: /etc/ssl/misc/CA.pl: not found' >&2; exit 1; }; " +
		serveForever + "\"]\n",
}

// servicePolicy is every service's own policy. Alpine 3.19 → 3.20 under a service is a
// distribution release, whose plan needs memory judged over a soak before it is GO: the
// smoke test and a soak of seconds tell a service that runs from one that does not (8 s: long
// enough that, on a loaded machine too, the samples after the warm-up let Layer 6's
// metrics-within compare CPU use); the image pair's packages and vulnerabilities are the run
// policy's business.
const servicePolicy = `apiVersion: plimsoll/v1
kind: Policy
patches:
  layers: [smoke, soak]
plan:
  distro: {soak: 8s}
app:
  health: {exec: [test, -f, /tmp/ready], interval: 100ms}
smoke:
  stayUp: 1s
soak:
  duration: 8s
  interval: 500ms
  warmup: 500ms
`

// patchRepo is a Git repository of services on the platform team's base image, whose next
// release waits in a loopback registry, with the run policy, the vulnerability database and a
// store. The base is tagged in the team's own versions: platform/base:1.4.0 is the Alpine 3.19.4
// minirootfs, 1.5.0 the Alpine 3.20.3 one. (Tagged alpine:3.19.4 and alpine:3.20.3 they would be a
// distribution release, which patches never proposes; a minor release of the team's base, with
// patches.line: minor, is.)
type patchRepo struct {
	dir, host, policy, db, store, reports string
	old, new                              string // the base image's digests
	baseIDs                               []string
}

func newPatchRepo(t *testing.T, files map[string]string) *patchRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	docker := testenv.Docker(t)
	r := &patchRepo{dir: t.TempDir(), host: testenv.Registry(t, nil), reports: t.TempDir()}
	for v, tag := range map[string]string{"3.19.4": "1.4.0", "3.20.3": "1.5.0"} {
		img := testenv.AlpineImage(t, v)
		ref, _ := name.NewTag(r.host + "/platform/base:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		id, _ := img.ConfigName()
		if v == "3.19.4" {
			r.old = d.String()
		} else {
			r.new = d.String()
		}
		r.baseIDs = append(r.baseIDs, id.String())
	}
	for f, body := range files {
		body = strings.ReplaceAll(body, "@BASE@", r.host+"/platform/base:1.4.0@"+r.old)
		writeTestFile(t, filepath.Join(r.dir, f), body)
		if strings.HasSuffix(f, "/Dockerfile") {
			writeTestFile(t, filepath.Join(r.dir, filepath.Dir(f), patches.ServicePolicyFile), servicePolicy)
		}
	}
	gitIn(t, r.dir, "init", "-q", "-b", "main")
	gitIn(t, r.dir, "add", ".")
	gitIn(t, r.dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "services on alpine 3.19.4")
	r.policy = filepath.Join(t.TempDir(), "policy.yaml")
	// The team accepts what the 3.20.3 rootfs brings: libc-utils gone (an empty meta package)
	// and the medium zlib finding of the test database.
	writeTestFile(t, r.policy, "apiVersion: plimsoll/v1\nkind: Policy\npatches:\n  line: minor\n  layers: [diff]\n"+
		"diff:\n  allowRemoved: [libc-utils]\nvulnerabilities:\n  ignore: [CVE-2099-0003]\n")
	r.db, r.store = buildVulnDB(t, alpineAdvisories), filepath.Join(t.TempDir(), "plimsoll.db")
	t.Cleanup(func() { // the service builds, then the bases loaded for them
		ctx := context.Background()
		res, err := docker.ImageList(ctx, client.ImageListOptions{All: true})
		if err != nil {
			return
		}
		for _, im := range res.Items {
			for _, tag := range im.RepoTags {
				if strings.HasPrefix(tag, "plimsoll-patches/") {
					_, _ = docker.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
				}
			}
		}
		for _, id := range r.baseIDs {
			_, _ = docker.ImageRemove(ctx, id, client.ImageRemoveOptions{PruneChildren: true})
		}
	})
	return r
}

// apply runs patches --apply on the repository and returns the report, the exit code and how
// long the run took.
func (r *patchRepo) apply(t *testing.T, extra ...string) (patches.Report, result, time.Duration) {
	t.Helper()
	args := append([]string{"patches", "--apply", "-o", "json", "-p", r.policy, "--vuln-db", r.db, "--store", r.store,
		"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--report-dir", r.reports}, extra...)
	start := time.Now()
	res := plimsoll(t, append(args, r.dir)...)
	took := time.Since(start)
	var rep patches.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("patches --apply: exit %d, output not JSON: %v\n%s", res.code, err, res.stdout)
	}
	for _, im := range rep.Images { // the evidence, when a test fails
		if o := im.Outcome; o != nil && o.RunID != "" {
			t.Logf("image pair: %s", verdictOf(t, filepath.Join(r.reports, o.RunID)))
			for _, s := range o.Services {
				if s.RunID != "" {
					t.Logf("service %s: %s", s.Service, verdictOf(t, filepath.Join(r.reports, s.RunID)))
				}
			}
		}
	}
	return rep, res, took
}

// services returns the outcomes of the services of the report's only image, by name.
func services(t *testing.T, rep patches.Report) map[string]*patches.ServiceOutcome {
	t.Helper()
	if len(rep.Images) != 1 || rep.Images[0].Outcome == nil {
		t.Fatalf("report: %d images, want the one base with an outcome: %+v", len(rep.Images), rep.Images)
	}
	out := map[string]*patches.ServiceOutcome{}
	for _, s := range rep.Images[0].Outcome.Services {
		out[s.Service] = s
	}
	return out
}

// TestPatchesServices: three services on Alpine 3.19.4, whose 3.20.3 patch fixes a critical
// CVE. `patches --apply` checks the image pair, builds each service on both bases (6 images),
// checks the 3 services with their own policy, and proposes the 2 that are GO as branches;
// certs, which needs a file 3.20.3 removed, is NO-GO and gets none. The work tree is untouched
// and the ledger holds every service's check.
func TestPatchesServices(t *testing.T) {
	r := newPatchRepo(t, patchServices)
	head := gitIn(t, r.dir, "rev-parse", "HEAD")
	rep, res, took := r.apply(t)
	t.Logf("patches --apply, 3 services: %s", took.Round(100*time.Millisecond))
	if res.code != 20 {
		t.Fatalf("exit %d, want 20 (a service was NO-GO)\n%s", res.code, res.stdout)
	}
	// The image pair is CAUTION: a distribution release needs memory judged over a soak, which
	// a base image whose command is a shell cannot give. The services settle it.
	o := rep.Images[0].Outcome
	if o.Decision != verdict.Caution || o.Candidate != r.host+"/platform/base:1.5.0@"+r.new {
		t.Fatalf("image pair: %+v, want CAUTION for 1.5.0", o)
	}
	svcs := services(t, rep)
	want := map[string]verdict.Decision{"api": verdict.Go, "worker": verdict.Go, "certs": verdict.NoGo}
	docker := testenv.Docker(t)
	for name, d := range want {
		s := svcs[name]
		if s == nil {
			t.Errorf("service %s was not checked", name)
			continue
		}
		if s.Decision != d || s.RunID == "" || s.Applied != (d == verdict.Go) {
			t.Errorf("service %s: %s (run %q, applied %v), want %s: %s", name, s.Decision, s.RunID, s.Applied, d, s.Reason)
		}
		// Two builds, each labelled with its own base and the patch's CVEs.
		for img, digest := range map[string]string{s.OldImage: r.old, s.NewImage: r.new} {
			insp, err := docker.ImageInspect(t.Context(), strings.TrimPrefix(img, "docker:"))
			if err != nil {
				t.Errorf("service %s: image %q: %v", name, img, err)
				continue
			}
			l := insp.Config.Labels
			if l[patches.LabelBaseDigest] != digest || !strings.HasPrefix(l[patches.LabelBaseName], r.host+"/platform/base:") ||
				!strings.Contains(l[patches.LabelPatchCVEs], "CVE-2099-0001") {
				t.Errorf("service %s: %s labels %v", name, img, l)
			}
		}
	}
	if s := svcs["certs"]; s != nil && (s.Branch != "" || !strings.Contains(s.Reason, "NO-GO")) {
		t.Errorf("certs: branch %q, reason %q; want no branch and the NO-GO said", s.Branch, s.Reason)
	}

	// Two branches, one commit each on top of HEAD; the work tree and main untouched.
	branches := strings.Fields(gitIn(t, r.dir, "branch", "--list", "--format=%(refname:short)", "plimsoll/*"))
	if w := []string{"plimsoll/patch/api/base-1.5.0", "plimsoll/patch/worker/base-1.5.0"}; !slices.Equal(branches, w) {
		t.Errorf("branches %v, want %v", branches, w)
	}
	for _, b := range branches {
		svc := strings.Split(b, "/")[2]
		if p := gitIn(t, r.dir, "rev-parse", b+"^"); p != head {
			t.Errorf("%s: parent %s, want HEAD %s", b, p, head)
		}
		df := gitIn(t, r.dir, "show", b+":"+svc+"/Dockerfile")
		if !strings.Contains(df, r.host+"/platform/base:1.5.0@"+r.new) || strings.Contains(df, r.old) {
			t.Errorf("%s: Dockerfile\n%s", b, df)
		}
		msg := gitIn(t, r.dir, "log", "-1", "--format=%B", b)
		for _, w := range []string{r.old, r.new, "critical: CVE-2099-0001", "Verdict: GO", svcs[svc].RunID, o.RunID} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: commit message lacks %q:\n%s", b, w, msg)
			}
		}
		if files := gitIn(t, r.dir, "diff", "--name-only", head, b); files != svc+"/Dockerfile" {
			t.Errorf("%s changes %q, want only %s/Dockerfile", b, files, svc)
		}
	}
	if st := gitIn(t, r.dir, "status", "--porcelain"); st != "" || gitIn(t, r.dir, "rev-parse", "HEAD") != head ||
		gitIn(t, r.dir, "branch", "--show-current") != "main" {
		t.Errorf("work tree or branch changed: status %q", st)
	}

	// Again: the two branches wait for review and are not rebuilt; certs is checked again.
	rep, res, took = r.apply(t)
	t.Logf("patches --apply again: %s", took.Round(100*time.Millisecond))
	again := services(t, rep)
	if res.code != 20 || again["certs"].Decision != verdict.NoGo || again["api"].NewImage != "" ||
		!strings.Contains(again["api"].Reason, "already proposed") || !strings.Contains(again["worker"].Reason, "already proposed") {
		t.Errorf("second run: exit %d, services %+v %+v %+v", res.code, again["api"], again["worker"], again["certs"])
	}

	// The ledger: every service's check, the two proposals (and certs' second check).
	s, err := sqlite.Open(t.Context(), r.store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.PatchEvents(t.Context(), store.PatchFilter{Image: r.host + "/platform/base"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if f := strings.Fields(e.Note); len(f) > 1 && f[0] == "service" {
			got = append(got, string(e.Kind)+" "+strings.TrimSuffix(f[1], ":")+" "+string(e.Decision))
		}
	}
	slices.Sort(got)
	if w := []string{"checked api GO", "checked certs NO-GO", "checked certs NO-GO", "checked worker GO", "proposed api GO", "proposed worker GO"}; !slices.Equal(got, w) {
		t.Errorf("ledger service events %v, want %v", got, w)
	}
}

// TestPatchesBadServices: a work tree with uncommitted changes is refused with one line; once
// clean, a service whose Dockerfile does not build is ERROR (exit 1) and the other still gets
// its branch.
func TestPatchesBadServices(t *testing.T) {
	r := newPatchRepo(t, map[string]string{
		"api/Dockerfile":     patchServices["api/Dockerfile"],
		"api/start.sh":       patchServices["api/start.sh"],
		"nobuild/Dockerfile": "FROM @BASE@\nCOPY missing.conf /etc/missing.conf\n",
	})
	writeTestFile(t, filepath.Join(r.dir, "api", "start.sh"), "exit 0\n")
	res := plimsoll(t, "patches", "--apply", "-p", r.policy, "--store", r.store, r.dir)
	if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); res.code != 2 || len(lines) != 1 ||
		!strings.Contains(lines[0], "uncommitted changes (api/start.sh)") {
		t.Fatalf("dirty work tree: exit %d, stderr %q; want 2 and one line naming api/start.sh", res.code, res.stderr)
	}
	gitIn(t, r.dir, "checkout", "--", ".")

	rep, res, _ := r.apply(t)
	if res.code != 1 || !strings.Contains(res.stderr, "service nobuild") {
		t.Fatalf("exit %d, want 1 (a service did not build) naming it", res.code)
	}
	svcs := services(t, rep)
	if s := svcs["nobuild"]; s == nil || s.Decision != verdict.Error || s.Branch != "" || !strings.Contains(s.Reason, "missing.conf") {
		t.Errorf("nobuild: %+v, want ERROR naming missing.conf, no branch", s)
	}
	if s := svcs["api"]; s == nil || s.Decision != verdict.Go || s.Branch != "plimsoll/patch/api/base-1.5.0" {
		t.Errorf("api: %+v, want GO on its branch", s)
	}
}

// verdictOf reads a run's verdict and the results that were not PASS from its reports.
func verdictOf(t *testing.T, dir string) string {
	t.Helper()
	sum := summary(t, dir)
	var out []string
	if v, ok := sum["verdict"].(map[string]any); ok {
		out = append(out, fmt.Sprint(v["decision"], ": ", v["summary"]))
	}
	start, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(sum["startedAt"]))
	end, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(sum["finishedAt"]))
	out = append(out, "took "+end.Sub(start).Round(100*time.Millisecond).String())
	layers, _ := sum["layers"].([]any)
	for _, l := range layers {
		lm, _ := l.(map[string]any)
		res, _ := lm["results"].([]any)
		for _, r := range res {
			rm, _ := r.(map[string]any)
			if rm["status"] != "PASS" {
				out = append(out, fmt.Sprint(rm["check"], " ", rm["status"], ": ", rm["message"]))
			}
		}
	}
	return strings.Join(out, "; ")
}

func writeTestFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gitIn runs git in dir and returns its output, trimmed.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPatchesScale measures how `patches --apply` scales with the services on one base: 1,
// then 3 services that are all GO (each gets its branch). It takes minutes, so it runs only
// with PLIMSOLL_E2E_SCALE=1; the times are logged.
func TestPatchesScale(t *testing.T) {
	if os.Getenv("PLIMSOLL_E2E_SCALE") != "1" {
		t.Skip("a measurement: set PLIMSOLL_E2E_SCALE=1 to run it")
	}
	for _, n := range []int{1, 3} {
		files := map[string]string{}
		for i := range n {
			svc := fmt.Sprintf("svc%d", i)
			files[svc+"/Dockerfile"], files[svc+"/start.sh"] = patchServices["api/Dockerfile"], patchServices["api/start.sh"]
		}
		r := newPatchRepo(t, files)
		rep, res, took := r.apply(t)
		t.Logf("patches --apply, %d service(s): %s", n, took.Round(100*time.Millisecond))
		if res.code != 0 {
			t.Fatalf("%d services: exit %d, want 0", n, res.code)
		}
		for name, s := range services(t, rep) {
			if s.Decision != verdict.Go || s.Branch == "" {
				t.Errorf("%s: %s, branch %q; want GO on a branch", name, s.Decision, s.Branch)
			}
		}
	}
}
