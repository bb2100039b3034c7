package launch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok"))
		case "/starting":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			time.Sleep(2 * time.Second)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ep := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		path    string
		want    int
		timeout time.Duration
		errHas  string
	}{
		{path: "/healthz", want: 200},
		{path: "/starting", want: 503},
		{path: "/starting", want: 200, errHas: "status 503, want 200"},
		{path: "/moved", want: 302},
		{path: "/moved", want: 200, errHas: "status 302, want 200"}, // redirects are not followed
		{path: "/slow", want: 200, timeout: 100 * time.Millisecond, errHas: "deadline exceeded"},
	} {
		ctx := context.Background()
		if tc.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tc.timeout)
			defer cancel()
		}
		before := time.Now()
		at, err := probeHTTP(ctx, ep, tc.path, tc.want)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("GET %s want %d: %v", tc.path, tc.want, err)
		case tc.errHas == "" && at.Before(before):
			t.Errorf("GET %s: passed at %v, before the probe started", tc.path, at)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("GET %s want %d: err %v, want one saying %q", tc.path, tc.want, err, tc.errHas)
		}
	}
	if _, err := probeHTTP(context.Background(), "", "/healthz", 200); err == nil {
		t.Error("a probe without an endpoint passed")
	}
}

func TestProbeTCP(t *testing.T) {
	listen := func(handle func(net.Conn)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go handle(c)
			}
		}()
		return ln.Addr().String()
	}
	holds := listen(func(c net.Conn) { time.Sleep(time.Second); c.Close() })
	banner := listen(func(c net.Conn) { c.Write([]byte("220 ready\r\n")); time.Sleep(time.Second); c.Close() })
	// What a published port with nothing listening behind it does: the engine's proxy accepts,
	// fails to reach the container, and hangs up.
	hangsUp := listen(func(c net.Conn) { c.Close() })
	resets := listen(func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() })
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	for _, tc := range []struct {
		name, ep string
		ok       bool
		errHas   string
	}{
		{"listener keeps the connection", holds, true, ""},
		{"listener greets", banner, true, ""},
		{"proxy hangs up", hangsUp, false, "closed at once"},
		{"proxy resets", resets, false, "closed at once"},
		{"nothing listens", closed, false, "refused"},
		{"no endpoint", "", false, "not published"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := probeTCP(context.Background(), tc.ep)
			if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("probeTCP = %v, want ok=%v (%q)", err, tc.ok, tc.errHas)
			}
		})
	}
}

func TestHealthcheckCmd(t *testing.T) {
	for _, tc := range []struct {
		test []string
		want []string
	}{
		{nil, nil},
		{[]string{"NONE"}, nil},
		{[]string{"CMD"}, nil},
		{[]string{"CMD", "/app", "probe"}, []string{"/app", "probe"}},
		{[]string{"CMD-SHELL", "curl -f localhost || exit 1"}, []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}},
		{[]string{"WHATEVER", "x"}, nil},
	} {
		var hc *v1.HealthConfig
		if tc.test != nil {
			hc = &v1.HealthConfig{Test: tc.test}
		}
		if got := healthcheckCmd(hc); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("healthcheckCmd(%q) = %q, want %q", tc.test, got, tc.want)
		}
	}
}

func TestExposedPort(t *testing.T) {
	for _, tc := range []struct {
		ports []string
		want  int
	}{
		{nil, 0},
		{[]string{"53/udp"}, 0},
		{[]string{"9090/tcp", "8080/tcp", "53/udp"}, 8080},
		{[]string{"8443", "80/udp"}, 8443},
		{[]string{"http/tcp", "70000/tcp"}, 0},
	} {
		cf := &v1.ConfigFile{Config: v1.Config{ExposedPorts: map[string]struct{}{}}}
		for _, p := range tc.ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
		if got := exposedPort(cf); got != tc.want {
			t.Errorf("exposedPort(%q) = %d, want %d", tc.ports, got, tc.want)
		}
	}
}

func TestDescribeExit(t *testing.T) {
	for _, tc := range []struct {
		st   runtime.State
		want string
	}{
		{runtime.State{ExitCode: 3}, "exited with code 3"},
		{runtime.State{ExitCode: 139, Signal: syscall.SIGSEGV}, "was killed by signal SIGSEGV (exit code 139)"},
		{runtime.State{ExitCode: 137, Signal: syscall.SIGKILL, OOMKilled: true}, "was killed for want of memory (OOM, exit code 137)"},
		{runtime.State{ExitCode: 128 + 40, Signal: 40}, "was killed by signal 40 (signal 40) (exit code 168)"},
		{runtime.State{Running: true}, "is running"},
	} {
		if got := DescribeExit(tc.st); got != tc.want {
			t.Errorf("DescribeExit(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

func TestTmpfsOwner(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nnonroot:x:65532:65533::/home/nonroot:/sbin/nologin\nbroken:x:12\n")
	group := []byte("root:x:0:\nnonroot:x:65533:\napp:x:2000:\n")
	for _, tc := range []struct {
		user     string
		uid, gid int
		ok       bool
	}{
		{"nonroot", 65532, 65533, true},
		{"nonroot:app", 65532, 2000, true},
		{"nonroot:7", 65532, 7, true},
		{"65532", 65532, 65533, true}, // a number with a passwd entry gets its primary group
		{"4242:app", 4242, 2000, true},
		{"4242", 4242, 0, true},
		{"nobody", 0, 0, false},
		{"nonroot:nogroup", 0, 0, false},
		{"broken", 0, 0, false},
	} {
		uid, gid, ok := lookupIDs(tc.user, passwd, group)
		if uid != tc.uid || gid != tc.gid || ok != tc.ok {
			t.Errorf("lookupIDs(%q) = %d, %d, %v; want %d, %d, %v", tc.user, uid, gid, ok, tc.uid, tc.gid, tc.ok)
		}
	}
	for _, tc := range []struct {
		user     string
		uid, gid int
		ok       bool
	}{
		{"", 0, 0, true}, {"65532", 65532, 0, true}, {"65532:65532", 65532, 65532, true},
		{"app", 0, 0, false}, {"1:app", 0, 0, false}, {"-1", 0, 0, false},
	} {
		uid, gid, ok := numericIDs(tc.user)
		if uid != tc.uid || gid != tc.gid || ok != tc.ok {
			t.Errorf("numericIDs(%q) = %d, %d, %v; want %d, %d, %v", tc.user, uid, gid, ok, tc.uid, tc.gid, tc.ok)
		}
	}
	if got := ownerOptions(0, 0); got != "" {
		t.Errorf("root's tmpfs options %q, want none", got)
	}
	if got := ownerOptions(65532, 0); got != "uid=65532,gid=0" {
		t.Errorf("ownerOptions = %q", got)
	}
}

func TestProbesNeedAPort(t *testing.T) {
	a := &App{}
	for _, h := range []config.Health{{HTTP: "/healthz"}, {TCP: true}} {
		if _, err := a.probes(h); !errors.Is(err, ErrNoPort) {
			t.Errorf("probes(%+v) without a port = %v, want ErrNoPort", h, err)
		}
	}
	ps, err := a.probes(config.Health{})
	if err != nil || len(ps) != 1 || ps[0].desc != "the container running for 1s" {
		t.Errorf("default probe without port or HEALTHCHECK = %v, %v; want the container running", ps, err)
	}
	if !a.HealthIsRunningOnly(config.Health{}) {
		t.Error("HealthIsRunningOnly without port or HEALTHCHECK = false")
	}
	for _, h := range []config.Health{{Exec: []string{"true"}}, {HTTP: "/healthz"}} {
		if a.HealthIsRunningOnly(h) {
			t.Errorf("HealthIsRunningOnly(%+v) = true: the policy set a probe", h)
		}
	}
	if p := (&App{Port: 8080}); p.HealthIsRunningOnly(config.Health{}) {
		t.Error("HealthIsRunningOnly with a port = true: a TCP connect is probed")
	}
}

func FuzzLookupIDs(f *testing.F) {
	f.Add("app", "app:x:1:2::/:/bin/sh\n", "app:x:3:\n")
	f.Add("app:grp", "app:x:1:2\n", "grp:x:9:\n")
	f.Add("7:x", ":::\n", "x::-1\n")
	f.Add("app", "app:x:1:-2\n", "")
	f.Fuzz(func(t *testing.T, user, passwd, group string) {
		uid, gid, ok := lookupIDs(user, []byte(passwd), []byte(group))
		if ok && (uid < 0 || gid < 0) {
			t.Fatalf("lookupIDs(%q) = %d, %d: negative ids", user, uid, gid)
		}
		if !ok && (uid != 0 || gid != 0) {
			t.Fatalf("lookupIDs(%q) failed but returned %d, %d", user, uid, gid)
		}
	})
}
