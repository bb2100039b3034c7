package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// sampler takes the samples of one running image: memory and CPU from the container's cgroup
// (Instance.Stats), FDs, threads and TCP connections from the host's /proc of its main process,
// one health probe on 127.0.0.1, and the error lines its logs gained since the last sample.
type sampler struct {
	name string
	inst runtime.Instance
	pid  int
	proc string // the /proc to read: "/proc"
	// probe runs one health probe; nil when there is no endpoint (the app exposes no port).
	probe func(ctx context.Context) error
	logs  logCounter
}

// newSampler returns the sampler of a running app. health is the path to GET ("" for a TCP
// connect); status is the status it must answer.
func newSampler(ctx context.Context, name string, inst runtime.Instance, endpoint, health string, status int, timeout time.Duration, extra []*regexp.Regexp) (*sampler, error) {
	pid, err := inst.PID(ctx)
	if err != nil {
		return nil, fmt.Errorf("soak %s: %w", name, err)
	}
	s := &sampler{name: name, inst: inst, pid: pid, proc: "/proc", logs: logCounter{extra: extra}}
	if endpoint != "" {
		s.probe = httpProbe(endpoint, health, status, timeout)
	}
	return s, nil
}

// httpProbe GETs path on endpoint and wants status; with no path it connects over TCP.
func httpProbe(endpoint, path string, status int, timeout time.Duration) func(ctx context.Context) error {
	if status == 0 {
		status = http.StatusOK
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true,
			DialContext: (&net.Dialer{Timeout: timeout}).DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if path == "" {
		return func(ctx context.Context) error {
			c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", endpoint)
			if err != nil {
				return err
			}
			return c.Close()
		}
	}
	url := "http://" + endpoint + path
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			return fmt.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, status)
		}
		return nil
	}
}

// sample takes one sample. Parts that cannot be read are left out of the point (statsOK,
// procOK); an exited container is a point with Running false and Exit set.
func (s *sampler) sample(ctx context.Context, now time.Time) Point {
	p := Point{Time: now, Running: true}
	st, err := s.inst.Stats(ctx)
	switch {
	case err == nil:
		p.RSS, p.CPU, p.statsOK = float64(st.RSS), st.CPU.Seconds(), true
	case errors.Is(err, runtime.ErrNotRunning) || errors.Is(err, runtime.ErrRemoved):
		p.Running = false
	}
	if p.Running {
		p.procOK = s.readProc(&p) == nil
	}
	if s.probe != nil {
		p.probed = true
		if p.Running {
			p.HealthOK = s.probe(ctx) == nil
		}
	}
	if !p.Running || !p.procOK && !p.statsOK {
		// Tell an exited container from an unreadable /proc.
		if state, err := s.inst.State(ctx); err == nil && !state.Running {
			p.Running, p.HealthOK, p.Exit = false, false, launch.DescribeExit(state)
		} else if errors.Is(err, runtime.ErrRemoved) {
			p.Running, p.HealthOK, p.Exit = false, false, "was removed"
		}
	}
	s.logs.read(ctx, s.inst)
	p.ErrorLines, p.LogLines = s.logs.errors, s.logs.lines
	return p
}

// readProc reads FDs, threads and TCP sockets of the main process from the host's /proc.
func (s *sampler) readProc(p *Point) error {
	status, err := os.ReadFile(fmt.Sprintf("%s/%d/status", s.proc, s.pid))
	if err != nil {
		return err
	}
	ps, err := ParseStatus(status)
	if err != nil {
		return err
	}
	fds, err := countFDs(s.proc, s.pid)
	if err != nil {
		return err
	}
	var tcp TCPCounts
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("%s/%d/net/%s", s.proc, s.pid, f))
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return err
		}
		c, err := ParseNetTCP(b)
		if err != nil {
			return err
		}
		tcp.Add(c)
	}
	p.Threads, p.FDs, p.TCP = ps.Threads, fds, tcp
	return nil
}

// logCounter counts the error lines of a container's logs: the crash patterns of
// launch.ScanLogs (panic, fatal, segfault, …) and the policy's own. The runtime gives the
// whole log on every read, so the lines already counted are skipped by number.
type logCounter struct {
	extra         []*regexp.Regexp
	lines, errors int
	buf           bytes.Buffer
}

func (l *logCounter) read(ctx context.Context, inst runtime.Instance) {
	l.buf.Reset()
	if err := inst.Logs(ctx, &l.buf); err != nil {
		return
	}
	b := l.buf.Bytes()
	// Skip the lines counted before; a log shorter than that (a restarted container) is new.
	skip := l.lines
	if n := bytes.Count(b, []byte("\n")); n < skip {
		skip, l.lines = 0, 0
	}
	for i := 0; i < skip; i++ {
		j := bytes.IndexByte(b, '\n')
		b = b[j+1:]
	}
	// Only whole lines: a line being written is read next time.
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return
	}
	b = b[:end+1]
	l.lines += bytes.Count(b, []byte("\n"))
	l.errors += len(launch.ScanLogs(b, l.extra))
}
