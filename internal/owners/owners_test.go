package owners

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const codeowners = `# Lines starting with '#' are comments.
*                    @org/platform
*.md                 docs@example.com
/services/api/       @org/api @alice
services/**/certs/   @org/security   # any certs directory under services
/build/logs/
`

func TestOf(t *testing.T) {
	rs, err := Parse(strings.NewReader(codeowners), "CODEOWNERS")
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Add("services/worker/Dockerfile", "@bob"); err != nil { // a policy rule, last: it wins
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"Makefile":                          {"@org/platform"},
		"services/api/Dockerfile":           {"@org/api", "@alice"},
		"services/api/README.md":            {"@org/api", "@alice"}, // the later rule wins over *.md
		"README.md":                         {"docs@example.com"},
		"docs/guide.md":                     {"docs@example.com"},
		"services/eu/certs/Dockerfile":      {"@org/security"},
		"services/certs/Dockerfile":         {"@org/security"},
		"services/worker/Dockerfile":        {"@bob"},
		"./services/worker/start.sh":        {"@org/platform"},
		"build/logs/today.log":              nil, // owned by nobody
		"other/services/api/Dockerfile.yml": {"@org/platform"},
	} {
		if got := rs.Of(path); !slices.Equal(got, want) {
			t.Errorf("Of(%q) = %v, want %v", path, got, want)
		}
	}
	var none *Rules
	if got := none.Of("x"); got != nil {
		t.Errorf("nil rules: %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"[Documentation]\ndocs/ @docs\n",    // GitLab sections
		"*.go alice\n",                      // an owner without @ that is no e-mail
		"!vendor/ @org/platform\n",          // negation
		"src/[a-z]*.go @org/platform\n",     // character classes are not CODEOWNERS
		"* @org/platform\n* @@bad\n",        // the second line
		"{\"owners\": {\"*\": \"@org\"}}\n", // another format altogether
	} {
		_, err := Parse(strings.NewReader(bad), "CODEOWNERS")
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "CODEOWNERS:") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) = %v, want one line CODEOWNERS:N: … ErrFormat", bad, err)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if rs, err := Find(dir); rs != nil || err != nil {
		t.Fatalf("no CODEOWNERS: %v, %v", rs, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".github", "CODEOWNERS"), []byte(codeowners), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := Find(dir)
	if err != nil || !slices.Equal(rs.Of("services/api/x"), []string{"@org/api", "@alice"}) {
		t.Fatalf("Find: %v, %v", rs, err)
	}
}

// FuzzParse: any input is rules or ErrFormat, never a panic; a path matched is matched again.
func FuzzParse(f *testing.F) {
	f.Add(codeowners, "services/api/Dockerfile")
	f.Add("**/x/** @a\n", "a/x/b")
	f.Add("a?c/*.md a@b.c\n", "abc/d.md")
	f.Add("[x]\n", "")
	f.Fuzz(func(t *testing.T, file, path string) {
		rs, err := Parse(strings.NewReader(file), "CODEOWNERS")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		if !slices.Equal(rs.Of(path), rs.Of(path)) {
			t.Fatal("Of is not deterministic")
		}
	})
}
