package kubetest

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is one control-plane process, its output going to Dir/logs/NAME.log.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

// run starts bin/name with args in a process group of its own. The kernel kills it
// (SIGKILL) when the thread that started it, and so the test binary, dies.
func (c *Cluster) run(name string, args ...string) (*process, error) {
	return c.runIn(&c.procs, c.Dir, name, filepath.Join(c.bin, name), nil, args...)
}

// runIn starts the program at path as run does, with env added to the test binary's, its log
// in dir/logs/name.log, and appends it to procs.
func (c *Cluster) runIn(procs *[]*process, dir, name, path string, env []string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, "logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	*procs = append(*procs, p)
	return p, nil
}

// stop ends the real node, if any, then every process, newest first.
func (c *Cluster) stop() {
	if sharedNode.n != nil && sharedNode.n.cluster == c {
		sharedNode.n.stop()
		sharedNode.n = nil
	}
	stopAll(c.procs)
	c.procs = nil
}

// stopAll ends procs, newest first: SIGTERM to each group, SIGKILL after 3 s.
func stopAll(procs []*process) {
	for i := len(procs) - 1; i >= 0; i-- {
		_ = syscall.Kill(-procs[i].cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(3 * time.Second)
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
		case <-deadline:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// tails returns the last n lines of every process's log.
func (c *Cluster) tails(n int) string { return tailsOf(c.procs, n) }

// tailsOf returns the last n lines of the log of each of procs.
func tailsOf(procs []*process, n int) string {
	var b strings.Builder
	for _, p := range procs {
		raw, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "----- %s (last %d lines of %s)\n%s\n", p.name, len(lines), p.log, strings.Join(lines, "\n"))
	}
	return b.String()
}

func (c *Cluster) dumpLogs(t testing.TB) {
	t.Logf("test cluster logs (full logs in %s):\n%s", filepath.Join(c.Dir, "logs"), c.tails(40))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func httpOK(url string) error {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
