package soak

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// The samplers read the host's /proc of the container's main process (Instance.PID), never
// through the container, so shell-less images are sampled like any other.

// ErrMalformed is returned (wrapped) for /proc content that cannot be read.
var ErrMalformed = errors.New("malformed /proc content")

// TCP states of /proc/net/tcp (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpTimeWait    = 0x06
	tcpCloseWait   = 0x08
	tcpListen      = 0x0A
	tcpMaxStates   = 0x0C
)

// TCPCounts counts the sockets of a network namespace by TCP state (index: the kernel's state
// number).
type TCPCounts [tcpMaxStates]int

// Open returns the connections that hold resources of the app: every socket but the listening
// ones and those in TIME_WAIT (which the kernel holds and bounds, not the app).
func (c TCPCounts) Open() int {
	n := 0
	for st, k := range c {
		if st != tcpListen && st != tcpTimeWait {
			n += k
		}
	}
	return n
}

// Add adds d's counts to c.
func (c *TCPCounts) Add(d TCPCounts) {
	for i := range c {
		c[i] += d[i]
	}
}

// ParseNetTCP counts the sockets of /proc/<pid>/net/tcp or tcp6 by state. The first line is
// the header; every other line is "sl: local remote st …".
func ParseNetTCP(data []byte) (TCPCounts, error) {
	var c TCPCounts
	first := true
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if first {
			first = false
			if f := bytes.Fields(line); len(f) > 0 && string(f[0]) == "sl" {
				continue
			}
		}
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 4 || !bytes.HasSuffix(f[0], []byte(":")) {
			return TCPCounts{}, fmt.Errorf("%w: net/tcp line %q", ErrMalformed, clipBytes(line))
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil || st == 0 || st >= tcpMaxStates {
			return TCPCounts{}, fmt.Errorf("%w: net/tcp state %q", ErrMalformed, clipBytes(f[3]))
		}
		c[st]++
	}
	return c, nil
}

// ProcStatus is what the samplers read of /proc/<pid>/status.
type ProcStatus struct {
	// Threads is the number of threads of the process.
	Threads int
	// VmRSS is the resident set of the process in bytes (0 for a kernel thread).
	VmRSS int64
}

// ParseStatus reads the Threads and VmRSS lines of /proc/<pid>/status. A status without a
// Threads line is malformed.
func ParseStatus(data []byte) (ProcStatus, error) {
	var ps ProcStatus
	threads := false
	for line := range bytes.Lines(data) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		switch string(k) {
		case "Threads":
			if len(f) != 1 {
				return ProcStatus{}, fmt.Errorf("%w: status Threads %q", ErrMalformed, clipBytes(v))
			}
			n, err := strconv.Atoi(string(f[0]))
			if err != nil || n < 0 {
				return ProcStatus{}, fmt.Errorf("%w: status Threads %q", ErrMalformed, clipBytes(v))
			}
			ps.Threads, threads = n, true
		case "VmRSS":
			if len(f) != 2 || string(f[1]) != "kB" {
				return ProcStatus{}, fmt.Errorf("%w: status VmRSS %q", ErrMalformed, clipBytes(v))
			}
			n, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil || n < 0 || n > 1<<53 {
				return ProcStatus{}, fmt.Errorf("%w: status VmRSS %q", ErrMalformed, clipBytes(v))
			}
			ps.VmRSS = n << 10
		}
	}
	if !threads {
		return ProcStatus{}, fmt.Errorf("%w: status has no Threads line", ErrMalformed)
	}
	return ps, nil
}

// countFDs counts the entries of /proc/<pid>/fd without sorting or stat-ing them.
func countFDs(proc string, pid int) (int, error) {
	d, err := os.Open(fmt.Sprintf("%s/%d/fd", proc, pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(256)
		n += len(names)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func clipBytes(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}
