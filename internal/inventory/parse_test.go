package inventory

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// brief is the part of a Ref the parser tests compare.
type brief struct {
	Line   int
	Raw    string
	Pinned bool
	Site   bool
}

func briefs(refs []Ref) []brief {
	out := []brief{}
	for _, r := range refs {
		out = append(out, brief{Line: r.Line, Raw: r.Raw, Pinned: !r.Floats, Site: r.site.mode != modeNone})
	}
	return out
}

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []brief
		problems int
	}{
		{"plain", "FROM alpine:3.19\n", []brief{{1, "alpine:3.19", false, true}}, 0},
		{"lowercase and platform", "from --platform=linux/arm64 alpine as a\n", []brief{{1, "alpine", false, true}}, 0},
		{"stage names are not images", "FROM golang:1.22 AS Build\nFROM build\nFROM BUILD AS again\n",
			[]brief{{1, "golang:1.22", false, true}}, 0},
		{"scratch", "FROM scratch\n", []brief{}, 0},
		{"arg default reported at the ARG", "ARG B=alpine:3.19\nFROM ${B}\nFROM $B AS x\n",
			[]brief{{1, "alpine:3.19", false, true}, {1, "alpine:3.19", false, true}}, 0},
		{"quoted arg default", "ARG B='alpine:3.19'\nFROM $B\n", []brief{{1, "alpine:3.19", false, true}}, 0},
		{"stage-local ARG does not reach FROM", "ARG B=a:1\nFROM $B\nARG B=b:2\nFROM $B\n",
			[]brief{{1, "a:1", false, true}, {1, "a:1", false, true}}, 0},
		{"mixed variables expand but cannot be pinned", "ARG V=3.19\nFROM alpine:${V}\n",
			[]brief{{2, "alpine:${V}", false, false}}, 0},
		{"default in FROM", "FROM alpine:${V:-3.20}\n", []brief{{1, "alpine:${V:-3.20}", false, false}}, 0},
		{"unresolved ARG", "ARG B\nFROM $B\n", []brief{}, 1},
		{"continuation and comment", "FROM \\\n# note\n  --platform=$TARGETPLATFORM \\\n  nginx:1.25 AS web\n",
			[]brief{{4, "nginx:1.25", false, true}}, 0},
		{"pinned", "FROM busybox:1.36@" + testDigest + "\n", []brief{{1, "busybox:1.36@" + testDigest, true, true}}, 0},
		{"bad reference", "FROM Bad:Ref\nFROM\n", []brief{}, 2},
		{"crlf", "FROM alpine:3.19\r\nRUN true\r\n", []brief{{1, "alpine:3.19", false, true}}, 0},
		{"heredoc body is not instructions", "FROM a:1\nRUN <<EOF bash\nFROM b:2\nEOF\nRUN <<-'X'\n\tFROM c:3\n\tX\nFROM d:4\n",
			[]brief{{1, "a:1", false, true}, {8, "d:4", false, true}}, 0},
		{"escape directive", "# escape=`\nFROM `\n  a:1 AS x\nRUN dir c:\\\nFROM b:2\n",
			[]brief{{3, "a:1", false, true}, {5, "b:2", false, true}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, problems := parseDockerfile("Dockerfile", []byte(tt.in))
			if got := briefs(refs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("refs = %+v, want %+v", got, tt.want)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems = %q, want %d", problems, tt.problems)
			}
		})
	}
}

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name     string
		kind     Kind
		in       string
		want     []brief
		problems int
	}{
		{"k8s list kind", KindK8s, "kind: List\nitems:\n- spec:\n    containers:\n    - image: a:1\n", []brief{{5, "a:1", false, true}}, 0},
		{"k8s image outside containers is ignored", KindK8s, "spec:\n  image: a:1\n", []brief{}, 0},
		{"k8s template skipped", KindK8s, "spec:\n  containers:\n  - image: '{{ .Values.x }}'\n", []brief{}, 0},
		{"k8s bad yaml", KindK8s, "a: [\n", []brief{}, 1},
		{"k8s bad reference", KindK8s, "containers:\n- image: 'UPPER:x'\n", []brief{}, 1},
		{"k8s escaped quotes cannot be rewritten", KindK8s, "containers:\n- image: \"a\\x3a1\"\n", []brief{{2, "a:1", false, false}}, 0},
		{"helm digest-only", KindHelm, "image:\n  repository: a\n  digest: " + testDigest + "\n", []brief{{2, "a@" + testDigest, true, false}}, 0},
		{"helm tag carrying digest", KindHelm, "image:\n  repository: a\n  tag: 1@" + testDigest + "\n", []brief{{2, "a:1@" + testDigest, true, true}}, 0},
		{"helm empty bare digest", KindHelm, "image:\n  repository: a\n  tag: '1'\n  digest:\n", []brief{{2, "a:1", false, true}}, 0},
		{"helm templated repository", KindHelm, "image:\n  repository: '{{ x }}'\n", []brief{}, 0},
		{"compose variable without default", KindCompose, "services:\n  a:\n    image: ${IMG}\n", []brief{}, 0},
		{"github expression", KindGitHub, "jobs:\n  a:\n    container: ${{ matrix.i }}\n", []brief{}, 0},
		{"gitlab image.name and services", KindGitLab, "image: {name: a:1}\nservices: [b:2, {name: c:3}]\n",
			[]brief{{1, "a:1", false, true}, {2, "b:2", false, true}, {2, "c:3", false, true}}, 0},
		{"anchors are not followed", KindK8s, "x: &a\n  containers:\n  - image: a:1\ny: *a\n", []brief{{3, "a:1", false, true}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, problems := parseYAML("f.yaml", tt.kind, []byte(tt.in), "")
			if got := briefs(refs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("refs = %+v, want %+v", got, tt.want)
			}
			if len(problems) != tt.problems {
				t.Errorf("problems = %q, want %d", problems, tt.problems)
			}
		})
	}
}

// pinAll pins every pinnable floating ref of one parsed file to testDigest
// and returns the rewritten text.
func pinAll(t *testing.T, data []byte, refs []Ref) []byte {
	t.Helper()
	edits, _ := Pin(context.Background(), refs, func(context.Context, string) (string, error) { return testDigest, nil })
	out, err := applyEdits(data, edits)
	if err != nil {
		t.Fatalf("edits do not fit the text they came from: %v\n%q", err, data)
	}
	return out
}

// checkPinned asserts that after pinning, the file yields the same number of
// references and every one Pin could rewrite is now pinned.
func checkPinned(t *testing.T, before, after []Ref, data, out []byte) {
	t.Helper()
	if len(after) != len(before) {
		t.Fatalf("%d refs before pinning, %d after\nbefore: %q\nafter:  %q", len(before), len(after), data, out)
	}
	for i, r := range before {
		if r.Floats && !r.Local && r.site.mode != modeNone && after[i].Floats {
			t.Fatalf("ref %q still floats after pinning\nbefore: %q\nafter:  %q", r.Raw, data, out)
		}
	}
}

func FuzzDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM alpine:3.19\n",
		"ARG B=alpine:3.19\nFROM ${B} AS b\nFROM b\n",
		"ARG B=\"x:1\" C=y\nFROM --platform=$P $B\nFROM ${C:-z}:1\n",
		"FROM \\\n  nginx AS n\r\n",
		"FROM scratch\n# c\nFROM busybox@" + testDigest + "\n",
		"# escape=`\nFROM `\n a:1\nRUN <<EOF\nFROM b\nEOF\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		data := []byte(s)
		refs, _ := parseDockerfile("Dockerfile", data)
		out := pinAll(t, data, refs)
		after, _ := parseDockerfile("Dockerfile", out)
		checkPinned(t, refs, after, data, out)
	})
}

func FuzzYAML(f *testing.F) {
	kinds := []Kind{KindK8s, KindHelm, KindCompose, KindGitHub, KindGitLab}
	for _, s := range []struct {
		k uint8
		s string
	}{
		{0, "kind: Pod\nspec:\n  containers:\n  - image: \"a:1\" # c\n---\nx: 1\n"},
		{1, "image:\n  registry: r.io\n  repository: a\n  tag: '1'\nb:\n  image: {repository: c, tag: 2}\nd: {image: e}\n"},
		{1, "- image:\n    repository: a\n    digest: \"\"\n"},
		{2, "services:\n  a:\n    build: .\n    image: a:dev\n  b:\n    image: b\n"},
		{3, "jobs:\n  a:\n    container: {image: a}\n    services: {s: {image: b:1}}\n    steps:\n    - uses: docker://c:2\n"},
		{4, "image: a\nservices: [b]\njob:\n  image: {name: c}\n"},
	} {
		f.Add(s.k, s.s)
	}
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := kinds[int(k)%len(kinds)]
		data := []byte(s)
		refs, problems := parseYAML("f.yaml", kind, data, "")
		for _, p := range problems {
			if strings.Contains(p, "parser failed") {
				t.Fatalf("yaml library panicked: %s on %q", p, s)
			}
		}
		out := pinAll(t, data, refs)
		after, _ := parseYAML("f.yaml", kind, out, "")
		checkPinned(t, refs, after, data, out)
	})
}

func TestPinHelmConventions(t *testing.T) {
	const d = testDigest
	tests := []struct{ name, in, want string }{
		{"digest key added under tag, comments kept",
			"image:\n  repository: a # repo\n  tag: 1.2 # human\n  pullPolicy: Always\n",
			"image:\n  repository: a # repo\n  tag: 1.2 # human\n  digest: " + d + "\n  pullPolicy: Always\n"},
		{"no tag: digest under repository",
			"list:\n- image:\n    repository: a\nnext: 1",
			"list:\n- image:\n    repository: a\n    digest: " + d + "\nnext: 1"},
		{"empty quoted digest filled",
			"image:\n  digest: ''\n  repository: a\n  tag: \"1\"\n",
			"image:\n  digest: '" + d + "'\n  repository: a\n  tag: \"1\"\n"},
		{"bare digest key filled",
			"image:\n  repository: a\n  tag: \"1\"\n  digest:   # fill me\n",
			"image:\n  repository: a\n  tag: \"1\"\n  digest: " + d + "   # fill me\n"},
		{"null digest replaced",
			"image:\n  repository: a\n  tag: \"1\"\n  digest: ~\n",
			"image:\n  repository: a\n  tag: \"1\"\n  digest: " + d + "\n"},
		{"flow mapping: digest rides on the tag",
			"image: {repository: a, tag: \"1\"}\n",
			"image: {repository: a, tag: \"1@" + d + "\"}\n"},
		{"crlf kept",
			"image:\r\n  repository: a\r\n  tag: 1\r\n",
			"image:\r\n  repository: a\r\n  tag: 1\r\n  digest: " + d + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, problems := parseYAML("values.yaml", KindHelm, []byte(tt.in), "")
			if len(problems) > 0 || len(refs) != 1 {
				t.Fatalf("refs %+v, problems %q", refs, problems)
			}
			if got := string(pinAll(t, []byte(tt.in), refs)); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
