package soak

import (
	"errors"
	"os"
	"testing"
)

const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65532        0 1840211 1 0000000000000000 100 0 0 10 0
   1: 020011AC:1F90 010011AC:A8C2 01 00000000:00000000 00:00000000 00000000 65532        0 1840388 1 0000000000000000 20 4 30 10 -1
   2: 020011AC:1F90 010011AC:A8C4 01 00000000:00000000 00:00000000 00000000 65532        0 1840389 1 0000000000000000 20 4 30 10 -1
   3: 020011AC:1F90 010011AC:A8C6 08 00000000:00000000 00:00000000 00000000 65532        0 1840390 1 0000000000000000 20 4 30 10 -1
   4: 020011AC:1F90 010011AC:A8C8 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000000000000
`

func TestParseNetTCP(t *testing.T) {
	tests := []struct {
		name            string
		in              string
		est, cw, tw, ls int
		open            int
		bad             bool
	}{
		{name: "sockets", in: netTCP, est: 2, cw: 1, tw: 1, ls: 1, open: 3},
		{name: "header only", in: "  sl  local_address rem_address   st tx_queue\n"},
		{name: "empty", in: ""},
		{name: "no trailing newline", in: "  sl x\n   0: 0:0 0:0 0A", ls: 1},
		{name: "bad state", in: "  sl x\n   0: 0:0 0:0 ZZ 0\n", bad: true},
		{name: "state zero", in: "  sl x\n   0: 0:0 0:0 00 0\n", bad: true},
		{name: "short line", in: "  sl x\n   0: 0:0\n", bad: true},
		{name: "no colon", in: "  sl x\n   0 0:0 0:0 01\n", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseNetTCP([]byte(tc.in))
			if tc.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c[tcpEstablished] != tc.est || c[tcpCloseWait] != tc.cw || c[tcpTimeWait] != tc.tw || c[tcpListen] != tc.ls || c.Open() != tc.open {
				t.Errorf("counts %v open %d", c, c.Open())
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ProcStatus
		bad  bool
	}{
		{name: "process", in: "Name:\ttestapp\nState:\tS (sleeping)\nVmRSS:\t    9876 kB\nThreads:\t7\n", want: ProcStatus{Threads: 7, VmRSS: 9876 << 10}},
		{name: "kernel thread", in: "Name:\tkworker\nThreads:\t1\n", want: ProcStatus{Threads: 1}},
		{name: "no threads", in: "Name:\tx\nVmRSS:\t1 kB\n", bad: true},
		{name: "bad threads", in: "Threads:\tmany\n", bad: true},
		{name: "negative threads", in: "Threads:\t-1\n", bad: true},
		{name: "bad unit", in: "Threads:\t1\nVmRSS:\t1 MB\n", bad: true},
		{name: "huge", in: "Threads:\t1\nVmRSS:\t99999999999999999 kB\n", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tc.in))
			if tc.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// TestOwnProc reads this test process's own /proc entries: the parsers accept the kernel's
// real output.
func TestOwnProc(t *testing.T) {
	pid := os.Getpid()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	ps, err := ParseStatus(st)
	if err != nil || ps.Threads < 1 || ps.VmRSS <= 0 {
		t.Fatalf("own status: %+v %v", ps, err)
	}
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if _, err := ParseNetTCP(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	before, err := countFDs("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	after, err := countFDs("/proc", pid)
	if err != nil || after != before+1 {
		t.Errorf("fds %d → %d (%v), want one more", before, after, err)
	}
}

func FuzzParseNetTCP(f *testing.F) {
	f.Add([]byte(netTCP))
	f.Add([]byte("  sl x\n   0: 0:0 0:0 0A"))
	f.Add([]byte("\n\n 1: a b 0B\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseNetTCP(b)
		if err != nil {
			return
		}
		if c.Open() < 0 {
			t.Fatalf("negative count %v", c)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\ttestapp\nVmRSS:\t    9876 kB\nThreads:\t7\n"))
	f.Add([]byte("Threads:\t1\n"))
	f.Add([]byte("VmRSS: 1 kB\nThreads: 2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseStatus(b)
		if err == nil && (ps.Threads < 0 || ps.VmRSS < 0) {
			t.Fatalf("negative %+v", ps)
		}
	})
}
