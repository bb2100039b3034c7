package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// alpineAdvisories are the advisories of the test vulnerability database. The IDs are made up;
// the packages and versions are the real ones of the two Alpine root filesystems.
const alpineAdvisories = `
- {id: CVE-2099-0001, namespace: "alpine:3.19", package: musl, fixedIn: 1.2.5-r0, versionFormat: apk, severity: Critical}
- {id: CVE-2099-0001, namespace: "alpine:3.20", package: musl, fixedIn: 1.2.5-r0, versionFormat: apk, severity: Critical}
- {id: CVE-2099-0002, namespace: "alpine:3.19", package: openssl, fixedIn: 3.1.8-r0, versionFormat: apk, severity: High}
- {id: CVE-2099-0002, namespace: "alpine:3.20", package: openssl, fixedIn: 3.3.3-r0, versionFormat: apk, severity: High}
- {id: CVE-2099-0003, namespace: "alpine:3.20", package: zlib, fixedIn: 1.3.1-r2, versionFormat: apk, severity: Medium}
`

// buildVulnDB builds the test database with `plimsoll vulndb build` and returns its directory.
func buildVulnDB(t *testing.T, advisories string) string {
	t.Helper()
	dir := t.TempDir()
	recs := filepath.Join(dir, "advisories.yaml")
	if err := os.WriteFile(recs, []byte(advisories), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db")
	if r := plimsoll(t, "vulndb", "build", recs, "--out", db); r.code != 0 {
		t.Fatalf("vulndb build: exit %d: %s", r.code, r.stderr)
	}
	return db
}

// alpinePair writes the Alpine 3.19.4 and 3.20.3 images to every transport and returns the
// old and new references for each.
func alpinePair(t *testing.T) map[string][2]string {
	t.Helper()
	imgs := map[string]v1.Image{"3.19.4": testenv.AlpineImage(t, "3.19.4"), "3.20.3": testenv.AlpineImage(t, "3.20.3")}
	dir := t.TempDir()
	refs := map[string][2]string{}

	// The Docker daemon.
	for v, img := range imgs {
		testenv.LoadIntoDaemon(t, img, "plimsoll-e2e/alpine:"+v)
	}
	refs["docker"] = [2]string{"docker:plimsoll-e2e/alpine:3.19.4", "docker:plimsoll-e2e/alpine:3.20.3"}
	// An OCI layout holding both, told apart by tag.
	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3.19.4", "3.20.3"} {
		if err := lp.AppendImage(imgs[v], layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": v})); err != nil {
			t.Fatal(err)
		}
	}
	refs["oci-dir"] = [2]string{"oci-dir:" + filepath.Join(dir, "oci") + ":3.19.4", "oci-dir:" + filepath.Join(dir, "oci") + ":3.20.3"}
	// docker-archive tarballs.
	for _, v := range []string{"3.19.4", "3.20.3"} {
		tag, _ := name.NewTag("alpine:" + v)
		if err := tarball.WriteToFile(filepath.Join(dir, v+".tar"), tag, imgs[v]); err != nil {
			t.Fatal(err)
		}
	}
	refs["docker-archive"] = [2]string{"docker-archive:" + filepath.Join(dir, "3.19.4.tar"), "docker-archive:" + filepath.Join(dir, "3.20.3.tar")}
	// An in-process registry on loopback.
	host := testenv.Registry(t, nil)
	for v, img := range imgs {
		ref, _ := name.ParseReference(host + "/library/alpine:" + v)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	refs["registry"] = [2]string{"registry:" + host + "/library/alpine:3.19.4", "registry:" + host + "/library/alpine:3.20.3"}
	return refs
}

// apkChanges lists the apk package changes of the packages check as "kind name old→new".
func apkChanges(t *testing.T, sum map[string]any) []string {
	t.Helper()
	res := result1(t, sum, "packages")
	data, _ := res["data"].(map[string]any)
	var out []string
	for _, kind := range []string{"added", "removed", "upgraded", "downgraded", "renamed"} {
		for _, key := range []string{kind, strings.ToUpper(kind[:1]) + kind[1:]} {
			list, _ := data[key].([]any)
			for _, c := range list {
				m := c.(map[string]any)
				if m["type"] != "apk" && m["Type"] != "apk" {
					continue
				}
				out = append(out, kind+" "+str(m, "name")+" "+str(m, "oldVersion")+"→"+str(m, "newVersion"))
			}
		}
	}
	sort.Strings(out)
	return out
}

func str(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	if v, ok := m[strings.ToUpper(k[:1])+k[1:]].(string); ok {
		return v
	}
	return ""
}

// result1 returns the Layer 1 result of the named check.
func result1(t *testing.T, sum map[string]any, check string) map[string]any {
	t.Helper()
	for _, l := range get(t, sum, "layers").([]any) {
		lm := l.(map[string]any)
		if lm["layer"].(float64) != 1 {
			continue
		}
		for _, r := range lm["results"].([]any) {
			rm := r.(map[string]any)
			if rm["check"] == check {
				return rm
			}
		}
	}
	t.Fatalf("no L1 result %q", check)
	return nil
}

func TestAlpineDistroUpgrade(t *testing.T) {
	testenv.Docker(t)
	db := buildVulnDB(t, alpineAdvisories)
	refs := alpinePair(t)
	want := []string{
		"removed libc-utils 0.7.2-r5→",
		"upgraded alpine-baselayout 3.4.3-r2→3.6.5-r0",
		"upgraded alpine-baselayout-data 3.4.3-r2→3.6.5-r0",
		"upgraded busybox 1.36.1-r19→1.36.1-r29",
		"upgraded busybox-binsh 1.36.1-r19→1.36.1-r29",
		"upgraded ca-certificates-bundle 20240226-r0→20240705-r0",
		"upgraded libcrypto3 3.1.7-r0→3.3.2-r0",
		"upgraded libssl3 3.1.7-r0→3.3.2-r0",
		"upgraded musl 1.2.4_git20230717-r4→1.2.5-r0",
		"upgraded musl-utils 1.2.4_git20230717-r4→1.2.5-r0",
		"upgraded ssl_client 1.36.1-r19→1.36.1-r29",
		"upgraded zlib 1.3.1-r0→1.3.1-r1",
	}
	digests := map[string]string{}
	for _, transport := range []string{"docker", "oci-dir", "docker-archive", "registry"} {
		t.Run(transport, func(t *testing.T) {
			out := t.TempDir()
			// The Alpine base images are no app: this is about the plan and Layer 1 (as a root
			// image with a shell and no SBOM, Layer 5 would rightly say NO-GO).
			r := plimsoll(t, "check", refs[transport][0], refs[transport][1], "--layers", "1", "--vuln-db", db, "--report-dir", out, "--no-progress")
			// libc-utils was removed: CAUTION, exit 10.
			if r.code != 10 {
				t.Fatalf("exit %d, want 10 (CAUTION)\n%s", r.code, r.stdout)
			}
			sum := summary(t, out)
			if k := get(t, sum, "plan", "kind"); k != "distro" {
				t.Errorf("plan kind = %v, want distro", k)
			}
			reasons := strings.ToLower(strings.Join(toStrings(get(t, sum, "plan", "reasons")), "\n"))
			for _, w := range []string{"musl", "openssl", "1.2.4", "1.2.5", "3.19", "3.20"} {
				if !strings.Contains(reasons, w) {
					t.Errorf("plan reasons do not mention %q:\n%s", w, reasons)
				}
			}
			if got := apkChanges(t, sum); !slices.Equal(got, want) {
				t.Errorf("apk changes:\n got %q\nwant %q", got, want)
			}
			pk := result1(t, sum, "packages")
			if pk["status"] != "warn" || !strings.Contains(pk["message"].(string), "libc-utils") {
				t.Errorf("packages: %v %v, want warn naming libc-utils", pk["status"], pk["message"])
			}
			vu := result1(t, sum, "vulnerabilities")
			// CVE-2099-0001 (critical) is fixed in musl and musl-utils (origin musl); CVE-2099-0002 (high)
			// persists in libcrypto3 and libssl3 (origin openssl); CVE-2099-0003 (medium, zlib) is new. No
			// new finding at or above high and fewer in total: the vulnerability check passes.
			if vu["status"] != "pass" || vu["message"] != "2 fixed, 1 introduced, 2 persisting" {
				t.Errorf("vulnerabilities: %v %q", vu["status"], vu["message"])
			}
			if vu["measured"] != "new: 2 high, 1 medium" || vu["baseline"] != "old: 2 critical, 2 high" {
				t.Errorf("vulnerabilities evidence: measured %q baseline %q", vu["measured"], vu["baseline"])
			}
			if d := get(t, sum, "verdict", "decision"); d != "CAUTION" {
				t.Errorf("decision = %v", d)
			}
			// The run says where its time went: every phase Layer 1 goes through took some.
			for _, phase := range []string{"resolve", "facts", "inventory", "match", "diff", "encode"} {
				d, err := time.ParseDuration(fmt.Sprint(get(t, sum, "timings", phase)))
				if err != nil || (d <= 0 && phase != "diff") {
					t.Errorf("timings.%s = %v (%v), want a positive duration", phase, get(t, sum, "timings", phase), err)
				}
			}
			digests[transport] = get(t, sum, "new", "digest").(string)
			for _, f := range []string{"summary.json", "junit.xml", "summary.md", "summary.txt"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// Every transport but the daemon (which may recompress layers) reads the same manifest.
	if digests["oci-dir"] != digests["docker-archive"] || digests["oci-dir"] != digests["registry"] {
		t.Errorf("digests differ across transports: %v", digests)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAlpineHotfix(t *testing.T) {
	testenv.Docker(t)
	db := buildVulnDB(t, alpineAdvisories)
	refs := alpinePair(t)["oci-dir"]
	t.Run("CVE still present is NO-GO", func(t *testing.T) {
		out := t.TempDir()
		r := plimsoll(t, "check", refs[0], refs[1], "--vuln-db", db, "--hotfix", "CVE-2099-0002", "--layers", "diff", "--report-dir", out, "--no-progress")
		if r.code != 20 {
			t.Fatalf("exit %d, want 20 (NO-GO)\n%s", r.code, r.stdout)
		}
		sum := summary(t, out)
		vu := result1(t, sum, "vulnerabilities")
		if vu["status"] != "fail" || !strings.Contains(vu["message"].(string), "hotfix CVE-2099-0002 still present") {
			t.Errorf("vulnerabilities: %v %q", vu["status"], vu["message"])
		}
		// The content says distro upgrade: the riskier reading wins over --hotfix, and says so.
		if k := get(t, sum, "plan", "kind"); k != "distro" {
			t.Errorf("plan kind = %v, want distro", k)
		}
		first := get(t, sum, "verdict", "reasons", 0).(map[string]any)
		if first["check"] != "vulnerabilities" {
			t.Errorf("first reason = %v, want the vulnerability check", first)
		}
	})
	t.Run("CVE fixed", func(t *testing.T) {
		out := t.TempDir()
		r := plimsoll(t, "check", refs[0], refs[1], "--vuln-db", db, "--hotfix", "CVE-2099-0001", "--layers", "1", "--report-dir", out, "--no-progress")
		// Only libc-utils' removal stands between this and GO: CAUTION.
		if r.code != 10 {
			t.Fatalf("exit %d, want 10\n%s", r.code, r.stdout)
		}
		vu := result1(t, summary(t, out), "vulnerabilities")
		if vu["status"] != "pass" || !strings.Contains(vu["message"].(string), "hotfix CVE-2099-0001 fixed") {
			t.Errorf("vulnerabilities: %v %q", vu["status"], vu["message"])
		}
	})
}
