package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OwnerGone reports whether the owner that meta (a container's labels, a pod's annotations)
// names is a plimsoll process of host that is no longer alive: LabelHost is host, and the
// process LabelPID is gone or started after LabelStarted (its PID was reused). Unreadable
// values keep the container: a collector never guesses.
func OwnerGone(meta map[string]string, host string) bool {
	if meta[LabelHost] != host {
		return false
	}
	pid, err := strconv.Atoi(meta[LabelPID])
	if err != nil || pid <= 0 {
		return false
	}
	created, err := time.Parse(time.RFC3339Nano, meta[LabelStarted])
	if err != nil {
		return false
	}
	return !processAlive(pid, created)
}

// processAlive reports whether process pid lives and started no later than created (give or
// take the clock's slack): a process that started after the container was created has reused
// the PID of a dead owner.
func processAlive(pid int, created time.Time) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if err := p.Signal(syscall.Signal(0)); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	start, ok := ProcessStart(pid)
	return !ok || !start.After(created.Add(startSlack))
}

// startSlack absorbs the coarseness of /proc start times (clock ticks after a boot time in
// whole seconds) and small clock adjustments.
const startSlack = 5 * time.Second

// ProcessStart reads when process pid started from Linux's /proc (boot time plus its start in
// clock ticks); ok is false where /proc cannot tell.
func ProcessStart(pid int) (time.Time, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	ticks, ok := statStartTicks(string(stat))
	if !ok {
		return time.Time{}, false
	}
	procStat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	btime, ok := bootTime(string(procStat))
	if !ok {
		return time.Time{}, false
	}
	const userHZ = 100 // USER_HZ: the unit of /proc/<pid>/stat times on every Linux ABI
	return btime.Add(time.Duration(ticks) * time.Second / userHZ), true
}

// statStartTicks returns field 22 (starttime) of /proc/<pid>/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last ')'.
func statStartTicks(stat string) (uint64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
}

// bootTime returns the "btime" line of /proc/stat.
func bootTime(procStat string) (time.Time, bool) {
	v, ok := statLine(procStat, "btime")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// statLine returns the value of key in "key value" lines.
func statLine(s, key string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
