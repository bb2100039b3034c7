package cst

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// corpusCounts is what each real config of ../shared/testdata/cst holds: command, file
// existence, file content and license tests, and whether it has a metadata test.
var corpusCounts = map[string][5]int{
	"cst-repo_ubuntu_22_04_containeropts_test.yaml":      {2, 0, 0, 0, 0},
	"cst-repo_ubuntu_22_04_containeropts_user_test.yaml": {1, 0, 0, 0, 0},
	"cst-repo_ubuntu_22_04_failure_test.yaml":            {3, 2, 2, 1, 0},
	"cst-repo_ubuntu_22_04_metadata_test.yaml":           {0, 0, 0, 0, 1},
	"cst-repo_ubuntu_22_04_test.yaml":                    {3, 5, 2, 1, 0},
	"distroless_base_testdata_base.yaml":                 {0, 13, 4, 0, 0},
	"distroless_base_testdata_debug.yaml":                {1, 1, 0, 0, 0},
	"distroless_examples_nonroot_testdata_user.yaml":     {1, 0, 0, 0, 0},
	"distroless_java_testdata_java21_debian13.yaml":      {2, 8, 0, 0, 1},
	"distroless_python3_testdata_debian13.yaml":          {3, 0, 0, 0, 0},
	"distroless_python3_testdata_python3.yaml":           {4, 0, 0, 0, 0},
	"distroless_static_testdata_debian12.yaml":           {0, 0, 1, 0, 0},
}

// TestParseCorpus parses every real config of the compatibility corpus.
func TestParseCorpus(t *testing.T) {
	dir := testenv.SharedDir(t, "cst")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpusCounts) {
		t.Fatalf("the corpus has %d files, the test knows %d: update corpusCounts", len(files), len(corpusCounts))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, ok := corpusCounts[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expected counts for %s", f)
			}
			cfg, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			meta := 0
			if !cfg.MetadataTest.empty() {
				meta = 1
			}
			got := [5]int{len(cfg.CommandTests), len(cfg.FileExistenceTests), len(cfg.FileContentTests), len(cfg.LicenseTests), meta}
			if got != want {
				t.Errorf("counts (command, existence, content, license, metadata) = %v, want %v", got, want)
			}
			if cfg.File != f {
				t.Errorf("File = %q, want %q", cfg.File, f)
			}
		})
	}
}

// TestParseCorpusDetails pins how the real files' trickier values are read.
func TestParseCorpusDetails(t *testing.T) {
	dir := testenv.SharedDir(t, "cst")
	load := func(name string) *Config {
		t.Helper()
		cfg, err := Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	fail := load("cst-repo_ubuntu_22_04_failure_test.yaml")
	if got, want := fail.CommandTests[0].Command, (Argv{"apt-get", "dslkfjasl"}); !slices.Equal(got, want) {
		t.Errorf("schema 1 list command = %q, want %q", got, want)
	}
	if got := fail.CommandTests[0].ExitCode; got != 1 {
		t.Errorf("exitCode = %d, want 1", got)
	}
	if fail.LicenseTests[0].Files != nil || !fail.LicenseTests[0].Debian {
		t.Errorf("license test = %+v, want debian and no files", fail.LicenseTests[0])
	}
	ubuntu := load("cst-repo_ubuntu_22_04_test.yaml")
	if got := ubuntu.CommandTests[2]; !slices.Equal(got.Command, Argv{"sh"}) || !slices.Equal(got.Args, []string{"-c", "echo $PATH"}) {
		t.Errorf("schema 2 command = %q %q", got.Command, got.Args)
	}
	fe := ubuntu.FileExistenceTests
	if fe[0].UID == nil || *fe[0].UID != 0 || fe[0].GID == nil || *fe[0].GID != 0 {
		t.Errorf("Root uid/gid = %v/%v, want 0/0", fe[0].UID, fe[0].GID)
	}
	if !fe[1].ShouldExist || fe[1].UID != nil || fe[1].IsExecutableBy != "owner" {
		t.Errorf("Date = %+v: want shouldExist defaulting to true, no uid, executable by owner", fe[1])
	}
	if fe[4].ShouldExist {
		t.Errorf("Dummy File shouldExist = true, want false")
	}
	meta := load("cst-repo_ubuntu_22_04_metadata_test.yaml").MetadataTest
	wantEnv := []KeyValue{
		{Key: "SOME_KEY", Value: "SOME_VAL"},
		{Key: "EMPTY_VAR"},
		{Key: "FOO_BAR", Value: `FOO\:BAR=BAZ`},
		{Key: "REGEX_VAR", Value: `[a-z]+-2\.1\.*`, IsRegex: true},
	}
	if diff := cmp.Diff(wantEnv, meta.EnvVars); diff != "" {
		t.Errorf("envVars (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]KeyValue{{Key: "BAR_FOO"}}, meta.UnboundEnvVars); diff != "" {
		t.Errorf("unboundEnvVars (-want +got):\n%s", diff)
	}
	if !slices.Equal(meta.UnexposedPorts, []string{"80"}) || !slices.Equal(meta.UnmountedVolumes, []string{"/root"}) {
		t.Errorf("unexposedPorts %q, unmountedVolumes %q", meta.UnexposedPorts, meta.UnmountedVolumes)
	}
	opts := load("cst-repo_ubuntu_22_04_containeropts_test.yaml").ContainerRunOptions
	if got := opts.unsupported(); got != "privileged, capabilities, bindMounts" {
		t.Errorf("unsupported options = %q", got)
	}
	if got := load("cst-repo_ubuntu_22_04_containeropts_user_test.yaml").ContainerRunOptions; got.User != "root" || got.unsupported() != "" {
		t.Errorf("user options = %+v", got)
	}
	java := load("distroless_java_testdata_java21_debian13.yaml")
	if got := java.FileExistenceTests[1].Permissions; got != "Lrwxrwxrwx" {
		t.Errorf("java permissions = %q", got)
	}
	py := load("distroless_python3_testdata_debian13.yaml")
	if got := py.CommandTests[2].Command; len(got) != 3 || !strings.Contains(got[2], "FINISHED ENTIRE SCRIPT") {
		t.Errorf("multi-line command = %q", got)
	}
	utf := load("distroless_python3_testdata_python3.yaml").CommandTests[3]
	// Single-quoted YAML keeps the backslash: the regular expression \xe9 matches "é".
	if got, want := utf.ExpectedOutput[0], `h\xe9llo`; got != want || !regexp.MustCompile(got).MatchString("h\u00e9llo.txt") {
		t.Errorf("regex escape = %q, want %q matching h\u00e9llo.txt", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"empty", "", []string{"empty"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1", "want a mapping"}},
		{"syntax", "schemaVersion: '2.0.0'\ncommandTests: [\n", []string{"line 2", "did not find expected node content"}},
		{"two documents", "schemaVersion: '2.0.0'\n---\nschemaVersion: '2.0.0'\n", []string{"line 2", "second YAML document"}},
		{"no schema", "commandTests: []\n", []string{"schemaVersion is missing"}},
		{"bad schema", "schemaVersion: 3.0.0\n", []string{"line 1", `unsupported schemaVersion "3.0.0"`}},
		{"unknown top key", "schemaVersion: 2.0.0\nfileExistanceTests: []\n", []string{"line 2", `unknown key "fileExistanceTests"`, `did you mean "fileExistenceTests"`}},
		{"unknown nested key", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n  command: ls\n  expectedOuput: [x]\n", []string{"line 5", "commandTests[0]", `unknown key "expectedOuput"`, `"expectedOutput"`}},
		{"unknown far key", "schemaVersion: 2.0.0\nmetadataTest:\n  zzzzzzzzz: 1\n", []string{"line 3", "known keys: envVars"}},
		{"wrong shape", "schemaVersion: 2.0.0\ncommandTests:\n  name: a\n", []string{"line 3", "commandTests", "want a list, not a mapping"}},
		{"wrong scalar", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n  command: ls\n  exitCode: one\n", []string{"line 5", "commandTests[0].exitCode", `want a whole number, not "one"`}},
		{"list for string", "schemaVersion: 2.0.0\nfileContentTests:\n- name: [a]\n  path: /x\n", []string{"line 3", "want a string, not a list"}},
		{"command mapping", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n  command: {x: 1}\n", []string{"line 4", "want a command as a string or a list"}},
		{"no command", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n", []string{"line 3", `command test "a" needs a command`}},
		{"no name", "schemaVersion: 2.0.0\nfileExistenceTests:\n- path: /x\n", []string{"line 3", "needs a name"}},
		{"bad regex", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n  command: ls\n  expectedOutput: ['ok', '(']\n", []string{"line 5", "expectedOutput[1]", "invalid regular expression"}},
		{"bad metadata regex", "schemaVersion: 2.0.0\nmetadataTest:\n  labels:\n  - key: a\n    value: '['\n    isRegex: true\n", []string{"line 5", "labels[0].value", "invalid regular expression"}},
		{"ls permissions", "schemaVersion: 2.0.0\nfileExistenceTests:\n- name: a\n  path: /x\n  permissions: '-rwsr-xr-x'\n", []string{"line 5", "urwxr-xr-x"}},
		{"executable by", "schemaVersion: 2.0.0\nfileExistenceTests:\n- name: a\n  path: /x\n  isExecutableBy: everyone\n", []string{"line 5", `"everyone": want owner, group, other or any`}},
		{"duplicate alias", "schemaVersion: 2.0.0\nmetadataTest:\n  env: []\n  envVars: []\n", []string{"line 4", `"envVars" given twice (also as "env")`}},
		{"empty setup", "schemaVersion: 2.0.0\ncommandTests:\n- name: a\n  command: ls\n  setup: [[]]\n", []string{"line 5", "empty setup command"}},
		{"env key", "schemaVersion: 2.0.0\nglobalEnvVars:\n- value: x\n", []string{"line 3", "needs a key"}},
		{"several", "schemaVersion: 2.0.0\nfoo: 1\nbar: 2\n", []string{"2 problems", "line 2", `"foo"`, "line 3", `"bar"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), "t.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "t.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, c *Config)
	}{
		{"json", `{"schemaVersion": "2.0.0", "commandTests": [{"name": "a", "command": "ls", "args": ["-l"]}]}`, func(t *testing.T, c *Config) {
			if got := c.CommandTests[0]; !slices.Equal(got.Command, Argv{"ls"}) || !slices.Equal(got.Args, []string{"-l"}) {
				t.Errorf("command %q %q", got.Command, got.Args)
			}
		}},
		{"old spellings", "schemaVersion: 2.0.0\nmetadataTest:\n  env: [{key: A, value: b}]\n  unboundEnv: [{key: B}]\n", func(t *testing.T, c *Config) {
			if len(c.MetadataTest.EnvVars) != 1 || len(c.MetadataTest.UnboundEnvVars) != 1 {
				t.Errorf("metadata %+v", c.MetadataTest)
			}
		}},
		{"yaml 1.1 booleans and numeric strings", "schemaVersion: 2.0.0\nfileExistenceTests:\n- name: a\n  path: /x\n  shouldExist: no\nmetadataTest:\n  exposedPorts: [8080]\n", func(t *testing.T, c *Config) {
			if c.FileExistenceTests[0].ShouldExist {
				t.Error("shouldExist: no read as true")
			}
			if !slices.Equal(c.MetadataTest.ExposedPorts, []string{"8080"}) {
				t.Errorf("ports %q", c.MetadataTest.ExposedPorts)
			}
		}},
		{"empty entrypoint", "schemaVersion: 2.0.0\nmetadataTest:\n  entrypoint: []\n", func(t *testing.T, c *Config) {
			if c.MetadataTest.Entrypoint == nil || len(*c.MetadataTest.Entrypoint) != 0 || c.MetadataTest.Cmd != nil {
				t.Errorf("entrypoint %v cmd %v", c.MetadataTest.Entrypoint, c.MetadataTest.Cmd)
			}
		}},
		{"anchors", "schemaVersion: 2.0.0\nx: &p /etc/passwd\n", nil},
		{"null sections", "schemaVersion: 2.0.0\ncommandTests:\nmetadataTest:\n", func(t *testing.T, c *Config) {
			if c.CommandTests != nil || c.MetadataTest != nil {
				t.Errorf("null sections decoded as %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "")
			if tt.check == nil { // meant to fail: the anchor sits under an unknown key
				if err == nil || !strings.Contains(err.Error(), `unknown key "x"`) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want a not-exist error that is not ErrInvalid", err)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"expectedOuput", "expectedOutput", 1}, {"same", "same", 0},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	dir := testenv.SharedDir(f, "cst")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("schemaVersion: 2.0.0\ncommandTests: [{name: a, command: [x, y], setup: [[a]]}]\n"))
	f.Add([]byte("{\"schemaVersion\": \"1.0.0\", \"metadataTest\": {\"entrypoint\": []}}"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b, "fuzz.yaml")
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v is not a ConfigError with problems", err)
			}
			return
		}
		if cfg == nil || (cfg.SchemaVersion != "1.0.0" && cfg.SchemaVersion != "2.0.0") {
			t.Fatalf("accepted config %+v", cfg)
		}
	})
}
