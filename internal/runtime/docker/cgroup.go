package docker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Stats are read from the container's cgroup files instead of the engine's stats API, which
// takes a second or two per sample. The cgroup is found from /proc/<pid>/cgroup of the
// container's main process and this process's mount table, so it works for cgroup v1, v2 and
// hybrid hosts, the cgroupfs and systemd drivers, and Podman, as long as the engine runs on
// this host in this PID namespace. The container ID must appear in the cgroup path: that
// catches a PID from another namespace pointing at an unrelated process.

// cgroupFiles are the directories holding one container's memory and CPU accounting.
type cgroupFiles struct {
	v2     bool
	memDir string // memory controller (v1) or the unified group (v2)
	cpuDir string // cpuacct controller (v1) or the unified group (v2)
}

// cgroupLine is one line of /proc/<pid>/cgroup: "hierarchy-ID:controller-list:path".
type cgroupLine struct {
	controllers []string // empty for the v2 line "0::/path"
	path        string
}

// parseProcCgroup parses /proc/<pid>/cgroup; malformed lines are skipped.
func parseProcCgroup(data []byte) []cgroupLine {
	var out []cgroupLine
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimRight(line, "\n"), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
		}
		out = append(out, cgroupLine{controllers: ctrls, path: parts[2]})
	}
	return out
}

// mount is one cgroup filesystem in /proc/self/mountinfo.
type mount struct {
	root, point string
	v2          bool
	controllers []string // v1: the super options naming controllers (and others, harmlessly)
}

// parseMountinfo returns the cgroup and cgroup2 mounts of a /proc/self/mountinfo.
func parseMountinfo(data []byte) []mount {
	var out []mount
	for line := range strings.Lines(string(data)) {
		pre, post, ok := strings.Cut(strings.TrimRight(line, "\n"), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		out = append(out, mount{
			root:        unescapeMount(f[3]),
			point:       unescapeMount(f[4]),
			v2:          g[0] == "cgroup2",
			controllers: strings.Split(g[2], ","),
		})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findCgroup locates the accounting directories of the container whose main process has the
// given /proc/<pid>/cgroup, using this process's mountinfo. A v1 memory controller wins over
// the unified hierarchy (hybrid hosts mount cgroup2 without controllers).
func findCgroup(procCgroup, mountinfo []byte, containerID string) (cgroupFiles, error) {
	lines, mounts := parseProcCgroup(procCgroup), parseMountinfo(mountinfo)
	v1 := func(ctrl string) (string, bool) {
		for _, l := range lines {
			if !slices.Contains(l.controllers, ctrl) {
				continue
			}
			for _, m := range mounts {
				if !m.v2 && slices.Contains(m.controllers, ctrl) {
					return under(m, l.path)
				}
			}
		}
		return "", false
	}
	var cg cgroupFiles
	mem, okMem := v1("memory")
	cpu, okCPU := v1("cpuacct")
	if okMem && okCPU {
		cg = cgroupFiles{memDir: mem, cpuDir: cpu}
	} else {
		for _, l := range lines {
			if len(l.controllers) != 0 {
				continue
			}
			for _, m := range mounts {
				if dir, ok := under(m, l.path); m.v2 && ok {
					cg = cgroupFiles{v2: true, memDir: dir, cpuDir: dir}
				}
			}
		}
	}
	if cg.memDir == "" {
		return cgroupFiles{}, fmt.Errorf("%w: no mounted cgroup holds the container's memory accounting", runtime.ErrStatsUnavailable)
	}
	if containerID == "" || !strings.Contains(cg.memDir, containerID) {
		return cgroupFiles{}, fmt.Errorf("%w: cgroup %s is not the container's (is the engine on another host or PID namespace?)", runtime.ErrStatsUnavailable, cg.memDir)
	}
	return cg, nil
}

// under returns where the cgroup path p lies in mount m, if it lies there at all.
func under(m mount, p string) (string, bool) {
	rel, err := filepath.Rel(m.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.Join(m.point, rel), true
}

// unlimited is the smallest value cgroup v1 reports for "no memory limit" (PAGE_COUNTER_MAX
// rounded to pages is just below 2^63).
const unlimited = 1 << 62

// read reads the statistics. A cgroup without processes (or gone) is runtime.ErrNotRunning.
func (cg cgroupFiles) read() (runtime.Stats, error) {
	procs, err := os.ReadFile(filepath.Join(cg.memDir, "cgroup.procs"))
	if err != nil || len(bytes.TrimSpace(procs)) == 0 {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return runtime.Stats{}, runtime.ErrNotRunning
		}
		return runtime.Stats{}, fmt.Errorf("read cgroup: %w", err)
	}
	var st runtime.Stats
	var rd statReader
	if cg.v2 {
		st.Usage = rd.int(cg.memDir, "memory.current")
		st.Peak = rd.optionalInt(cg.memDir, "memory.peak")
		st.Limit = rd.limit(cg.memDir, "memory.max")
		st.RSS = rd.key(cg.memDir, "memory.stat", "anon")
		st.CPU = time.Duration(rd.key(cg.cpuDir, "cpu.stat", "usage_usec")) * time.Microsecond
	} else {
		st.Usage = rd.int(cg.memDir, "memory.usage_in_bytes")
		st.Peak = rd.int(cg.memDir, "memory.max_usage_in_bytes")
		st.Limit = rd.limit(cg.memDir, "memory.limit_in_bytes")
		st.RSS = rd.key(cg.memDir, "memory.stat", "total_rss")
		st.CPU = time.Duration(rd.int(cg.cpuDir, "cpuacct.usage"))
	}
	if rd.err != nil {
		if errors.Is(rd.err, fs.ErrNotExist) {
			return runtime.Stats{}, runtime.ErrNotRunning
		}
		return runtime.Stats{}, rd.err
	}
	return st, nil
}

// statReader reads cgroup files, keeping the first error.
type statReader struct{ err error }

func (r *statReader) file(dir, name string) string {
	if r.err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		r.err = fmt.Errorf("read cgroup: %w", err)
	}
	return strings.TrimSpace(string(b))
}

func (r *statReader) parse(name, s string) int64 {
	if r.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.err = fmt.Errorf("read cgroup %s: %w", name, err)
	}
	return n
}

func (r *statReader) int(dir, name string) int64 { return r.parse(name, r.file(dir, name)) }

// optionalInt reads a file older kernels lack as 0.
func (r *statReader) optionalInt(dir, name string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0
	}
	return r.parse(name, strings.TrimSpace(string(b)))
}

// limit reads a memory limit, "max" (v2) or a huge number (v1) being 0.
func (r *statReader) limit(dir, name string) int64 {
	s := r.file(dir, name)
	if s == "max" {
		return 0
	}
	if n := r.parse(name, s); n < unlimited {
		return n
	}
	return 0
}

// key reads the value of key from a flat-keyed file such as memory.stat ("key value" lines).
func (r *statReader) key(dir, name, key string) int64 {
	s := r.file(dir, name)
	if r.err != nil {
		return 0
	}
	v, ok := flatKey(s, key)
	if !ok {
		r.err = fmt.Errorf("read cgroup %s: no %q", name, key)
		return 0
	}
	return r.parse(name, v)
}

// flatKey returns the value of key in "key value" lines.
func flatKey(s, key string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
