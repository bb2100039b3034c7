//go:build linux

// Package netns dials TCP from inside another process's network namespace — a container's —
// so a probe sees the network exactly as the app in that container does, with no probe
// binary or shell needed in the image. It enters the namespace on one locked OS thread, the
// way CNI plugins do, which needs CAP_SYS_ADMIN (root): without it Dial returns
// ErrNotPermitted. No maintained library does this one call without pulling a whole network
// stack (vishvananda/netns would; it is not in the module graph), so it is written here.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNotPermitted: entering the namespace needs root (CAP_SYS_ADMIN).
var ErrNotPermitted = errors.New("entering a container's network namespace needs root (CAP_SYS_ADMIN)")

// Dial connects to address (an IP and port: names are resolved outside the namespace) from
// the network namespace of the process pid. The connection's socket belongs to that
// namespace for its whole life, whatever thread later uses it.
func Dial(ctx context.Context, pid int, address string) (net.Conn, error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("network namespace of process %d: %w", pid, err)
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The thread enters the namespace and comes back; if it cannot come back it stays
		// locked, and Go ends the thread with this goroutine instead of reusing it.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("this thread's network namespace: %w", err)}
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			if errors.Is(err, unix.EPERM) {
				err = ErrNotPermitted
			}
			done <- result{err: fmt.Errorf("enter the network namespace of process %d: %w", pid, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", address)
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}
