package fallback

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
)

var (
	dA = "sha256:" + strings.Repeat("a", 64)
	dB = "sha256:" + strings.Repeat("b", 64)
)

func TestMirrorRefs(t *testing.T) {
	tests := []struct {
		name    string
		mirrors map[string][]string
		ref     string
		digest  string
		want    []string // ref of each mirror, in order
	}{
		{"host and port as written", map[string][]string{"127.0.0.1:5000": {"127.0.0.1:5001", "m.example.com/cache"}},
			"127.0.0.1:5000/team/app:1", dA, []string{"127.0.0.1:5001/team/app@" + dA, "m.example.com/cache/team/app@" + dA}},
		{"tag when no digest is known", map[string][]string{"registry.example.com": {"m.example.com"}},
			"registry.example.com/app:1.2", "", []string{"m.example.com/app:1.2"}},
		{"implicit latest", map[string][]string{"registry.example.com": {"m.example.com"}},
			"registry.example.com/app", "", []string{"m.example.com/app:latest"}},
		{"the reference's own digest", map[string][]string{"registry.example.com": {"m.example.com"}},
			"registry.example.com/app:1@" + dA, "", []string{"m.example.com/app@" + dA}},
		{"the digest given wins over the tag", map[string][]string{"registry.example.com": {"m.example.com"}},
			"registry.example.com/app:1", dB, []string{"m.example.com/app@" + dB}},
		{"docker.io key, short name", map[string][]string{"docker.io": {"mirror.internal:5000/hub"}},
			"alpine:3.20", dA, []string{"mirror.internal:5000/hub/library/alpine@" + dA}},
		{"index.docker.io key, docker.io name", map[string][]string{"index.docker.io": {"m.example.com"}},
			"docker.io/grafana/grafana:11", "", []string{"m.example.com/grafana/grafana:11"}},
		{"both spellings, as written first, no repeats", map[string][]string{
			"index.docker.io": {"b.example.com", "a.example.com"}, "docker.io": {"a.example.com", "c.example.com"}},
			"docker.io/library/nginx", dA, []string{"a.example.com/library/nginx@" + dA, "c.example.com/library/nginx@" + dA, "b.example.com/library/nginx@" + dA}},
		{"other registry", map[string][]string{"registry.example.com": {"m.example.com"}}, "quay.io/app:1", dA, nil},
		{"a name without a host is Docker Hub", map[string][]string{"registry.example.com": {"m.example.com"}}, "registry/app:1", dA, nil},
		{"no mirrors", nil, "registry.example.com/app:1", dA, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := name.ParseReference(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range mirrorRefs(tc.mirrors, r, tc.digest) {
				got = append(got, m.ref)
				if !strings.HasPrefix(m.ref, m.repo) || !strings.HasPrefix(m.repo, m.mirror+"/") {
					t.Errorf("inconsistent %+v", m)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("mirrorRefs (-want +got):\n%s", d)
			}
		})
	}
}

func FuzzMirrorRefs(f *testing.F) {
	f.Add("127.0.0.1:5000/app:1", "127.0.0.1:5000", "127.0.0.1:5001/cache", dA)
	f.Add("alpine", "docker.io", "m.example.com", "")
	f.Add("docker.io/library/alpine@"+dA, "index.docker.io", "m:1/a/b", "")
	f.Add("localhost/app:x", "localhost", "", "sha256:")
	f.Add("registry.example.com/a/b:c@"+dB, "REGISTRY.example.com", "m.example.com//x", dA)
	f.Fuzz(func(t *testing.T, ref, key, mirror, digest string) {
		r, err := name.ParseReference(ref)
		if err != nil {
			return
		}
		out := mirrorRefs(map[string][]string{key: {mirror, mirror}}, r, digest)
		if len(out) > 1 {
			t.Fatalf("a mirror listed twice gave %d references: %+v", len(out), out)
		}
		for _, m := range out {
			if m.mirror != mirror || m.repo != mirror+"/"+r.Context().RepositoryStr() || !strings.HasPrefix(m.ref, m.repo) {
				t.Fatalf("mirrorRefs(%q, %q: %q, %q) = %+v", ref, key, mirror, digest, m)
			}
			reg, err := name.NewRegistry(key)
			if err != nil || !strings.EqualFold(reg.RegistryStr(), r.Context().RegistryStr()) {
				t.Fatalf("key %q does not name the registry of %q, yet gave %+v", key, ref, m)
			}
			suffix := m.ref[len(m.repo):]
			switch d, isDigest := r.(name.Digest); {
			case digest != "":
				if suffix != "@"+digest {
					t.Fatalf("%q: want @%s", m.ref, digest)
				}
			case isDigest:
				if suffix != "@"+d.DigestStr() {
					t.Fatalf("%q: want the reference's digest", m.ref)
				}
			default:
				if suffix != ":"+r.(name.Tag).TagStr() {
					t.Fatalf("%q: want the reference's tag", m.ref)
				}
			}
			if p, err := name.ParseReference(m.ref); err == nil && p.Identifier() != suffix[1:] {
				t.Fatalf("%q parses to identifier %q", m.ref, p.Identifier())
			}
		}
	})
}

func TestRepoSpellings(t *testing.T) {
	tests := []struct {
		ref  string
		want []string
	}{
		{"127.0.0.1:5000/app:1", []string{"127.0.0.1:5000/app", "registry:127.0.0.1:5000/app"}},
		{"registry.example.com/team/app@" + dA, []string{"registry.example.com/team/app", "registry:registry.example.com/team/app"}},
		{"alpine:3.20", []string{"alpine", "registry:alpine", "index.docker.io/library/alpine", "registry:index.docker.io/library/alpine",
			"docker.io/library/alpine", "registry:docker.io/library/alpine", "library/alpine", "registry:library/alpine",
			"docker.io/alpine", "registry:docker.io/alpine"}},
		{"grafana/grafana", []string{"grafana/grafana", "registry:grafana/grafana", "index.docker.io/grafana/grafana",
			"registry:index.docker.io/grafana/grafana", "docker.io/grafana/grafana", "registry:docker.io/grafana/grafana"}},
	}
	for _, tc := range tests {
		r, err := name.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, repoSpellings(r)); d != "" {
			t.Errorf("repoSpellings(%q) (-want +got):\n%s", tc.ref, d)
		}
	}
}

func TestSameRepository(t *testing.T) {
	tests := []struct {
		stored, repo string
		want         bool
	}{
		{"registry:127.0.0.1:5000/app:1", "127.0.0.1:5000/app", true},
		{"127.0.0.1:5000/app@" + dA, "127.0.0.1:5000/app", true},
		{"127.0.0.1:5000/app2:1", "127.0.0.1:5000/app", false},
		{"registry:5000/app", "registry:5000/app", true}, // a host called registry
		{"alpine:3.20", "docker.io/library/alpine", true},
		{"registry:docker.io/alpine", "index.docker.io/library/alpine", true},
		{"docker:alpine:3.20", "docker.io/library/alpine", false}, // a daemon digest is not the registry's
		{"oci-dir:/tmp/alpine", "docker.io/library/alpine", false},
		{"docker-archive:alpine.tar", "docker.io/library/alpine", false},
		{"registry:", "docker.io/library/alpine", false},
		{"", "docker.io/library/alpine", false},
	}
	for _, tc := range tests {
		repo, err := name.NewRepository(tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameRepository(tc.stored, repo); got != tc.want {
			t.Errorf("sameRepository(%q, %q) = %v, want %v", tc.stored, tc.repo, got, tc.want)
		}
	}
}
