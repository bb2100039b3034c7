package runtime

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestProcessAlive(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		pid     int
		created time.Time
		want    bool
	}{
		{"this process, container created now", os.Getpid(), now, true},
		{"this process started after the container: the PID was reused", os.Getpid(), now.Add(-24 * time.Hour), false},
		{"init", 1, now, true},
		{"reaped child", deadPID(t), now, false},
	} {
		if got := processAlive(tc.pid, tc.created); got != tc.want {
			t.Errorf("%s: processAlive(%d) = %v, want %v", tc.name, tc.pid, got, tc.want)
		}
	}
}

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestOwnerGone(t *testing.T) {
	host, _ := os.Hostname()
	now := time.Now().UTC()
	meta := func(h string, pid int, started time.Time) map[string]string {
		return map[string]string{LabelHost: h, LabelPID: strconv.Itoa(pid), LabelStarted: started.Format(time.RFC3339)}
	}
	for _, tc := range []struct {
		name string
		meta map[string]string
		want bool
	}{
		{"owner alive", meta(host, os.Getpid(), now), false},
		{"owner gone", meta(host, deadPID(t), now), true},
		{"owner on another host", meta(host+"-other", deadPID(t), now), false},
		{"PID reused after the start", meta(host, os.Getpid(), now.Add(-24*time.Hour)), true},
		{"no PID", map[string]string{LabelHost: host, LabelStarted: now.Format(time.RFC3339)}, false},
		{"unreadable start", map[string]string{LabelHost: host, LabelPID: strconv.Itoa(deadPID(t)), LabelStarted: "yesterday"}, false},
	} {
		if got := OwnerGone(tc.meta, host); got != tc.want {
			t.Errorf("%s: OwnerGone = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStatStartTicks(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want uint64
		ok   bool
	}{
		{"1 (systemd) S 0 1 1 0 -1 4194560 100 200 10 20 30 40 50 60 20 0 1 0 7 1000 200 18446744073709551615", 7, true},
		{"4242 (my (odd) app) R 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0", 123456, true},
		{"4242 (short) R 1 2 3", 0, false},
		{"no parenthesis 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22", 0, false},
		{"1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0", 0, false},
		{"", 0, false},
	} {
		got, ok := statStartTicks(tc.stat)
		if got != tc.want || ok != tc.ok {
			t.Errorf("statStartTicks(%q) = %d, %v; want %d, %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBootTime(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int64
		ok   bool
	}{
		{"cpu  1 2 3\nintr 5\nctxt 9\nbtime 1763992140\nprocesses 7\n", 1763992140, true},
		{"cpu 1\n", 0, false},
		{"btime soon\n", 0, false},
		{"btime 0\n", 0, false},
	} {
		got, ok := bootTime(tc.stat)
		if ok != tc.ok || (ok && got.Unix() != tc.want) {
			t.Errorf("bootTime(%q) = %v, %v; want %d, %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzStatStartTicks(f *testing.F) {
	f.Add("1 (systemd) S 0 1 1 0 -1 4194560 100 200 10 20 30 40 50 60 20 0 1 0 7 1000 200")
	f.Add("4242 (a) b) R 1")
	f.Add(")")
	f.Fuzz(func(t *testing.T, stat string) {
		if n, ok := statStartTicks(stat); !ok && n != 0 {
			t.Fatalf("statStartTicks(%q) = %d, false", stat, n)
		}
	})
}
