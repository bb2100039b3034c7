package harden

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

const spdx = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","packages":[]}`

// registryImages builds images in an in-process registry: hardened ones (uid 65532, no shell,
// signed with key, an SBOM referrer attached) and variants of them.
type registryImages struct {
	t    *testing.T
	repo name.Repository
	key  *signtest.Signer
	n    int
}

func newRegistryImages(t *testing.T) *registryImages {
	host := signtest.StartRegistry(t, true)
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	return &registryImages{t: t, repo: repo, key: signtest.NewKeySigner(t)}
}

// variant describes how an image differs from a hardened one.
type variant struct {
	user     string
	extra    []ent
	unsigned bool
	noSBOM   bool
}

func (ri *registryImages) push(v variant) *image.Image {
	t := ri.t
	ri.n++
	files := []ent{
		dir("etc", 0o755), file("etc/passwd", "root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n", 0o644),
		file("etc/group", "root:x:0:\nnonroot:x:65532:\n", 0o644), dir("tmp", 0o1777),
		file("app", "\x7fELF build "+strings.Repeat("x", ri.n), 0o755),
	}
	user := "65532"
	if v.user != "" {
		user = v.user
	}
	if v.user == "root" {
		user = ""
	}
	img := imageOf(t, v1.Config{User: user, Entrypoint: []string{"/app"}, Env: []string{"PATH=/bin"}}, layerOf(t, append(files, v.extra...)...))
	got := signtest.Push(t, ri.repo.Tag("v"+strconv.Itoa(ri.n)).String(), img)
	if !v.unsigned {
		signtest.SignClassic(t, ri.repo, got.Digest, got.Digest, ri.key)
	}
	if !v.noSBOM {
		signtest.PutReferrer(t, ri.repo, got.Digest, "application/spdx+json", "application/spdx+json", []byte(spdx), nil)
	}
	return got
}

// runAll runs every check of New and returns the results by check name.
func runAll(t *testing.T, checks []check.Check, old, new *image.Image) map[string]check.Result {
	t.Helper()
	out := map[string]check.Result{}
	env := &check.Env{Old: old, New: new}
	for _, c := range checks {
		r, err := c.Run(context.Background(), env)
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		out[c.Name()] = r
	}
	return out
}

func TestHarden(t *testing.T) {
	ri := newRegistryImages(t)
	h := config.Default().Harden
	h.Signature = config.Signature{Required: true, Key: ri.key.PubPath}
	v, err := sign.NewVerifier(h.Signature, "")
	if err != nil {
		t.Fatal(err)
	}
	checks := func() []check.Check { return New(h, v) }
	old := ri.push(variant{})

	t.Run("hardened image", func(t *testing.T) {
		for _, o := range []*image.Image{nil, old} {
			got := runAll(t, checks(), o, ri.push(variant{}))
			if len(got) != 6 {
				t.Fatalf("%d checks, want 6", len(got))
			}
			for name, r := range got {
				if r.Status != check.StatusPass {
					t.Errorf("%s: %s %q", name, r.Status, r.Message)
				}
				if r.Measured == "" || r.Baseline == "" || r.Threshold == "" || r.Source == "" {
					t.Errorf("%s: missing evidence: %+v", name, r)
				}
			}
		}
	})

	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("Debian's busybox-static is needed: %v", err)
	}
	tests := []struct {
		name  string
		v     variant
		check string
		msg   string
	}{
		{name: "unsigned, signature required", v: variant{unsigned: true}, check: "signature", msg: "no signatures found"},
		{name: "running as root", v: variant{user: "root"}, check: "user", msg: "NEW runs as root"},
		{name: "a shell added", v: variant{extra: []ent{dir("bin", 0o755), file("bin/busybox", string(bb), 0o755), symlink("bin/sh", "busybox")}},
			check: "shell", msg: "NEW carries a shell: /bin/sh → /bin/busybox; busybox /bin/busybox"},
		{name: "no SBOM", v: variant{noSBOM: true}, check: "sbom", msg: "no SBOM attached to NEW in registry"},
		{name: "a setuid file added", v: variant{extra: []ent{file("su", "\x7fELF", 0o4755)}}, check: "files", msg: "NEW adds 1 setuid/setgid file: /su"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runAll(t, checks(), old, ri.push(tt.v))
			for name, r := range got {
				want := check.StatusPass
				if name == tt.check {
					want = check.StatusFail
				}
				if name == "config" && tt.v.user == "root" {
					want = check.StatusWarn // the user changed
				}
				if r.Status != want {
					t.Errorf("%s: %s %q, want %s", name, r.Status, r.Message, want)
				}
			}
			if r := got[tt.check]; !strings.Contains(r.Message, tt.msg) {
				t.Errorf("%s says %q, want %q", tt.check, r.Message, tt.msg)
			}
		})
	}
}

func TestSignatureCheck(t *testing.T) {
	ri := newRegistryImages(t)
	signedImg, unsigned := ri.push(variant{}), ri.push(variant{unsigned: true})
	daemon := &image.Image{Ref: "docker:app:1", Transport: image.Daemon, Digest: unsigned.Digest}
	v, err := sign.NewVerifier(config.Signature{Key: ri.key.PubPath}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		v        *sign.Verifier
		required bool
		noVerify bool
		old, new *image.Image
		want     check.Status
		msg      string
	}{
		// The default policy has no key or identity: an unsigned image is not a pass.
		{name: "no key or identity", new: unsigned, want: check.StatusWarn, msg: "not verified: no key or identity configured"},
		{name: "signatures not used", noVerify: true, new: unsigned, want: check.StatusSkipped, msg: "harden.signature.verify: false"},
		{name: "signed", v: v, new: signedImg, want: check.StatusPass, msg: "NEW is signed by " + ri.key.PubPath},
		{name: "unsigned, not required", v: v, new: unsigned, want: check.StatusWarn, msg: "CAUTION because harden.signature.required is false"},
		{name: "unsigned, required", v: v, required: true, new: unsigned, want: check.StatusFail, msg: "no signatures found"},
		{name: "regression", v: v, old: signedImg, new: unsigned, want: check.StatusWarn, msg: "a regression: OLD's signature verifies"},
		{name: "daemon image, required", v: v, required: true, new: daemon, want: check.StatusFail, msg: "no registry to read attachments from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := config.Signature{Required: tt.required}
			if tt.noVerify {
				sig.Verify = new(bool)
			}
			c := &signatureCheck{h: config.Harden{Signature: sig}, v: tt.v}
			r := run(t, c, tt.old, tt.new)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Message, tt.want, tt.msg)
			}
		})
	}
}

func TestSBOMCheck(t *testing.T) {
	ri := newRegistryImages(t)
	with, without := ri.push(variant{}), ri.push(variant{noSBOM: true})
	archive := &image.Image{Ref: "docker-archive:app.tar", Transport: image.DockerArchive, Digest: without.Digest}
	tests := []struct {
		name     string
		required bool
		old, new *image.Image
		want     check.Status
		msg      string
	}{
		{name: "attached", required: true, new: with, want: check.StatusPass, msg: "NEW has an SBOM attached: SPDX (OCI referrer"},
		{name: "missing, required", required: true, old: with, new: without, want: check.StatusFail, msg: "a regression: OLD has one"},
		{name: "missing, not required", new: without, want: check.StatusWarn, msg: "CAUTION because harden.sbom.required is false"},
		{name: "missing, says how to attach one", required: true, new: without, want: check.StatusFail, msg: "cosign attest --type spdxjson --predicate sbom.spdx.json " + ri.repo.Name() + "@" + without.Digest.String()},
		{name: "docker-archive, required", required: true, new: archive, want: check.StatusFail, msg: "check the image by its registry reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, &sbomCheck{h: config.Harden{SBOM: config.SBOMRule{Required: tt.required}}}, tt.old, tt.new)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Message, tt.want, tt.msg)
			}
		})
	}
}

// TestRegistryDown: a registry that does not answer is "could not tell", an error, never a pass
// or a verdict about the image.
func TestRegistryDown(t *testing.T) {
	ri := newRegistryImages(t)
	img := ri.push(variant{})
	v, err := sign.NewVerifier(config.Signature{Key: ri.key.PubPath, Required: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	gone := *img
	gone.Ref = "registry:127.0.0.1:1/app@" + img.Digest.String()
	for _, c := range []check.Check{&signatureCheck{v: v}, &sbomCheck{}} {
		_, err := c.Run(context.Background(), &check.Env{New: &gone})
		if err == nil || errors.Is(err, sign.ErrNotVerified) {
			t.Errorf("%s: err = %v, want a could-not-tell error", c.Name(), err)
		}
	}
}
