package docker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

const cid = "3017d743f7fc118bba1b1e6c8ee49a5253cfeed989bd5adfd5afd0eec3106a56"

// Mount tables seen on real hosts.
const (
	// Debian 12 with cgroup v1 and an empty unified hierarchy (this project's VM).
	mountsHybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	// Ubuntu 20.04: cpu and cpuacct share a hierarchy.
	mountsCombined = `34 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
36 25 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
`
	// A pure cgroup v2 host (Debian 12, Fedora, Ubuntu 22.04 on).
	mountsV2 = `22 1 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
)

func TestFindCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, procCgroup, mountinfo, id string
		want                            cgroupFiles
		wantErr                         error
	}{
		{
			name: "v1 hybrid, cgroupfs driver",
			procCgroup: "9:name=systemd:/docker/" + cid + "\n4:memory:/docker/" + cid + "\n2:cpuacct:/docker/" + cid +
				"\n1:cpu:/docker/" + cid + "\n0::/docker/" + cid + "\n",
			mountinfo: mountsHybrid, id: cid,
			want: cgroupFiles{memDir: "/sys/fs/cgroup/memory/docker/" + cid, cpuDir: "/sys/fs/cgroup/cpuacct/docker/" + cid},
		},
		{
			name:       "v1, cpu and cpuacct combined, systemd driver",
			procCgroup: "4:memory:/system.slice/docker-" + cid + ".scope\n3:cpu,cpuacct:/system.slice/docker-" + cid + ".scope\n",
			mountinfo:  mountsCombined, id: cid,
			want: cgroupFiles{
				memDir: "/sys/fs/cgroup/memory/system.slice/docker-" + cid + ".scope",
				cpuDir: "/sys/fs/cgroup/cpu,cpuacct/system.slice/docker-" + cid + ".scope",
			},
		},
		{
			name:       "v2, systemd driver",
			procCgroup: "0::/system.slice/docker-" + cid + ".scope\n",
			mountinfo:  mountsV2, id: cid,
			want: cgroupFiles{v2: true, memDir: "/sys/fs/cgroup/system.slice/docker-" + cid + ".scope", cpuDir: "/sys/fs/cgroup/system.slice/docker-" + cid + ".scope"},
		},
		{
			name:       "v2, rootless Podman",
			procCgroup: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container\n",
			mountinfo:  mountsV2, id: cid,
			want: cgroupFiles{
				v2:     true,
				memDir: "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container",
				cpuDir: "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container",
			},
		},
		{
			name:       "mount rooted below / (a nested cgroup namespace), escaped mount point",
			procCgroup: "0::/ci/docker/" + cid + "\n",
			mountinfo:  `22 1 0:26 /ci /sys/fs/my\040cgroup rw - cgroup2 cgroup2 rw` + "\n", id: cid,
			want: cgroupFiles{v2: true, memDir: "/sys/fs/my cgroup/docker/" + cid, cpuDir: "/sys/fs/my cgroup/docker/" + cid},
		},
		{
			name:       "the PID is another container's (another PID namespace)",
			procCgroup: "0::/system.slice/docker-0000.scope\n", mountinfo: mountsV2, id: cid,
			wantErr: runtime.ErrStatsUnavailable,
		},
		{
			name:       "the cgroup lies outside every mount",
			procCgroup: "0::/elsewhere/" + cid + "\n", mountinfo: `22 1 0:26 /ci /sys/fs/cgroup rw - cgroup2 cgroup2 rw` + "\n", id: cid,
			wantErr: runtime.ErrStatsUnavailable,
		},
		{
			name:       "no cgroup mounted",
			procCgroup: "0::/docker/" + cid + "\n", mountinfo: "31 23 0:28 / /tmp rw - tmpfs tmpfs rw\n", id: cid,
			wantErr: runtime.ErrStatsUnavailable,
		},
		{
			name:       "garbage",
			procCgroup: "nonsense\n::\n1:memory\n", mountinfo: "- - -\n1 2 3\n", id: cid,
			wantErr: runtime.ErrStatsUnavailable,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findCgroup([]byte(tc.procCgroup), []byte(tc.mountinfo), tc.id)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("findCgroup = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("findCgroup = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

// writeFiles creates dir with the files of m (name → content).
func writeFiles(t *testing.T, dir string, m map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range m {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCgroupRead(t *testing.T) {
	v1Mem := map[string]string{
		"cgroup.procs":              "4242\n4250\n",
		"memory.usage_in_bytes":     "643072\n",
		"memory.max_usage_in_bytes": "3559424\n",
		"memory.limit_in_bytes":     "134217728\n",
		"memory.stat":               "cache 0\nrss 53248\nrss_huge 0\ntotal_cache 0\ntotal_rss 57344\n",
	}
	v2 := map[string]string{
		"cgroup.procs":   "4242\n",
		"memory.current": "2232320\n",
		"memory.peak":    "4096000\n",
		"memory.max":     "max\n",
		"memory.stat":    "anon 1204224\nfile 0\nkernel 372736\n",
		"cpu.stat":       "usage_usec 24558\nuser_usec 10000\nsystem_usec 14558\n",
	}
	without := func(m map[string]string, drop string, set ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if k != drop {
				out[k] = v
			}
		}
		for i := 0; i+1 < len(set); i += 2 {
			out[set[i]] = set[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		v2       bool
		mem, cpu map[string]string // nil cpu: the same directory as mem
		want     runtime.Stats
		wantErr  error
	}{
		{name: "v1", mem: v1Mem, cpu: map[string]string{"cpuacct.usage": "24558485\n"},
			want: runtime.Stats{RSS: 57344, Usage: 643072, Peak: 3559424, Limit: 128 << 20, CPU: 24558485}},
		{name: "v1 unlimited", mem: without(v1Mem, "", "memory.limit_in_bytes", "9223372036854771712\n"), cpu: map[string]string{"cpuacct.usage": "1\n"},
			want: runtime.Stats{RSS: 57344, Usage: 643072, Peak: 3559424, CPU: 1}},
		{name: "v2", v2: true, mem: v2,
			want: runtime.Stats{RSS: 1204224, Usage: 2232320, Peak: 4096000, CPU: 24558 * time.Microsecond}},
		{name: "v2 limited, kernel without memory.peak", v2: true, mem: without(v2, "memory.peak", "memory.max", "33554432\n"),
			want: runtime.Stats{RSS: 1204224, Usage: 2232320, Limit: 32 << 20, CPU: 24558 * time.Microsecond}},
		{name: "no process left", v2: true, mem: without(v2, "", "cgroup.procs", ""), wantErr: runtime.ErrNotRunning},
		{name: "cgroup removed", v2: true, mem: nil, wantErr: runtime.ErrNotRunning},
		{name: "v1 without cpuacct", mem: v1Mem, cpu: map[string]string{}, wantErr: runtime.ErrNotRunning},
		{name: "malformed number", v2: true, mem: without(v2, "", "memory.current", "lots\n")},
		{name: "memory.stat without anon", v2: true, mem: without(v2, "", "memory.stat", "file 1\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cg := cgroupFiles{v2: tc.v2, memDir: filepath.Join(root, "mem"), cpuDir: filepath.Join(root, "mem")}
			if tc.mem != nil {
				writeFiles(t, cg.memDir, tc.mem)
			}
			if tc.cpu != nil {
				cg.cpuDir = filepath.Join(root, "cpu")
				writeFiles(t, cg.cpuDir, tc.cpu)
			}
			got, err := cg.read()
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read = %+v, %v; want %v", got, err, tc.wantErr)
				}
			case tc.want == (runtime.Stats{}):
				if err == nil || errors.Is(err, runtime.ErrNotRunning) {
					t.Fatalf("read = %+v, %v; want a read error", got, err)
				}
			case err != nil || got != tc.want:
				t.Fatalf("read = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzFindCgroup(f *testing.F) {
	f.Add("4:memory:/docker/"+cid+"\n2:cpuacct:/docker/"+cid+"\n0::/docker/"+cid+"\n", mountsHybrid)
	f.Add("0::/system.slice/docker-"+cid+".scope\n", mountsV2)
	f.Add("3:cpu,cpuacct:/x\n", mountsCombined)
	f.Add("0::/ci/"+cid, `22 1 0:26 /ci /a\040b\1 rw - cgroup2 cgroup2 rw`)
	f.Fuzz(func(t *testing.T, procCgroup, mountinfo string) {
		cg, err := findCgroup([]byte(procCgroup), []byte(mountinfo), cid)
		if err == nil && (!strings.Contains(cg.memDir, cid) || cg.cpuDir == "") {
			t.Fatalf("findCgroup = %+v without error", cg)
		}
		if err != nil && !errors.Is(err, runtime.ErrStatsUnavailable) {
			t.Fatalf("findCgroup error %v is not ErrStatsUnavailable", err)
		}
	})
}
