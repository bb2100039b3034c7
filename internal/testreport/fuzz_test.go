package testreport

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxSeed leaves the one 600 KB JUnit file out of the seeds: it slows every mutation and adds no
// structure the smaller files lack.
const maxSeed = 128 << 10

// seed adds the corpus reports under the given corpus directories and local testdata globs.
func seed(f *testing.F, dirs []string, globs ...string) {
	f.Helper()
	var paths []string
	for name, path := range corpusFiles(f) {
		dir, _, _ := strings.Cut(name, "/")
		for _, d := range dirs {
			if d == dir && !isExpectation(name) {
				paths = append(paths, path)
			}
		}
	}
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		f.Fatal("no seeds")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= maxSeed {
			f.Add(b)
		}
	}
}

func fuzzParse(f *testing.F, format string) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(bytes.NewReader(b), format)
		checkResult(t, r, err)
		if err == nil && format != "" && r.Format != format {
			t.Errorf("format %q, asked for %q", r.Format, format)
		}
	})
}

func FuzzParseJUnit(f *testing.F) {
	seed(f, []string{"junit", "gotest-json"}, "testdata/junit/*.xml")
	fuzzParse(f, FormatJUnit)
}

func FuzzParseJest(f *testing.F) {
	seed(f, []string{"jest"}, "testdata/jest/*.json")
	fuzzParse(f, FormatJest)
}

func FuzzParseMocha(f *testing.F) {
	seed(f, []string{"jest"})
	fuzzParse(f, FormatMocha)
}

func FuzzParseGoTest(f *testing.F) {
	seed(f, []string{"gotest-json"}, "testdata/gotest/*.json")
	fuzzParse(f, FormatGoTest)
}

func FuzzParseTAP(f *testing.F) {
	seed(f, []string{"tap"})
	fuzzParse(f, FormatTAP)
}

// FuzzParse detects the format first.
func FuzzParse(f *testing.F) {
	seed(f, corpusDirs, "testdata/junit/*.xml", "testdata/gotest/*.json", "testdata/jest/*.json")
	fuzzParse(f, "")
}
