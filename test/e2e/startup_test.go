package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// initLine is one line of GODEBUG=inittrace=1: a package's initialisation and what it allocated.
var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, [0-9.]+ ms clock, (\d+) bytes, (\d+) allocs$`)

// TestStartupInitsNothingHeavy: every command pays the package initialisation of everything
// linked, so plimsoll's own packages build nothing heavy at init (a scanner's catalogers, a
// scheme): they do it on first use. Allocations are counted, not time, so the test cannot flake.
func TestStartupInitsNothingHeavy(t *testing.T) {
	const limit = 256 << 10 // bytes allocated by one of our packages' init
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plimsoll version: %v\n%s", err, out)
	}
	type pkgInit struct {
		pkg   string
		bytes int
	}
	var all []pkgInit
	total := 0
	for _, l := range strings.Split(string(out), "\n") {
		m := initLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		b, _ := strconv.Atoi(m[2])
		all = append(all, pkgInit{m[1], b})
		total += b
		if strings.HasPrefix(m[1], "github.com/plimsoll/plimsoll/") && b > limit {
			t.Errorf("init of %s allocates %d bytes, want at most %d: build it on first use", m[1], b, limit)
		}
	}
	if len(all) == 0 {
		t.Fatalf("no inittrace lines in the output:\n%s", out)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].bytes > all[j].bytes })
	t.Logf("%d package inits allocate %d bytes; the largest:", len(all), total)
	for _, p := range all[:min(10, len(all))] {
		t.Logf("  %8d  %s", p.bytes, p.pkg)
	}
}
