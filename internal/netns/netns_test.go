//go:build linux

package netns

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDialInsideAnotherNamespace starts a process in a new network namespace (unshare -n),
// where only loopback exists and nothing of the host's is reachable, and dials a port that
// is open in the host's namespace: from inside it must be refused, from here it must connect.
func TestDialInsideAnotherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to enter a network namespace")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cmd := exec.Command("unshare", "-n", "sh", "-c", "ip link set lo up 2>/dev/null; sleep 30")
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// Wait until the child runs in its own namespace.
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if ns != "" && ns != self {
			break
		}
		if i > 100 {
			t.Fatal("the child never entered its own network namespace")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := net.Dial("tcp", l.Addr().String()); err != nil {
		t.Fatalf("from the host's namespace: %v", err)
	} else {
		c.Close()
	}
	c, err := Dial(ctx, pid, l.Addr().String())
	if err == nil {
		c.Close()
		t.Fatal("dialled the host's listener from inside another namespace: Dial did not enter it")
	}
	if !strings.Contains(err.Error(), "refused") && !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v, want connection refused (or network unreachable, with its loopback down)", err)
	}
	// The calling goroutine's thread is back in the host's namespace.
	if c, err := net.Dial("tcp", l.Addr().String()); err != nil {
		t.Errorf("after Dial, this process lost the host's network: %v", err)
	} else {
		c.Close()
	}
}

func TestDialNoSuchProcess(t *testing.T) {
	_, err := Dial(context.Background(), 1<<30, "127.0.0.1:1")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a missing namespace", err)
	}
}
