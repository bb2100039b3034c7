package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/postgres"
	"github.com/plimsoll/plimsoll/internal/store/storetest"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// server is the PostgreSQL server TestMain started, or why there is none.
var server struct {
	dsn     string // of the maintenance database, without the database name
	missing string
}

func TestMain(m *testing.M) {
	stop, err := startServer()
	if err != nil {
		server.missing = err.Error()
	}
	code := m.Run()
	if stop != nil {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
		}
	}
	os.Exit(code)
}

// binDir returns the newest installed PostgreSQL's bin directory (Debian's layout).
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL is not installed (apt-get install -y postgresql)")
}

// startServer initdbs a cluster in a temporary directory and starts it on a free port of
// 127.0.0.1 (as the postgres user when run as root, which PostgreSQL refuses to run as).
func startServer() (stop func() error, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plimsoll-pg-")
	if err != nil {
		return nil, err
	}
	var prefix []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(name string, args ...string) error {
		argv := append(append(slices.Clone(prefix), filepath.Join(bin, name)), args...)
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "plimsoll", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	server.dsn = fmt.Sprintf("postgres://plimsoll@127.0.0.1:%d", port)
	return func() error {
		err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
		return errors.Join(err, os.RemoveAll(dir))
	}, nil
}

// need fails (in CI) or skips the test when there is no server.
func need(t *testing.T) {
	t.Helper()
	if server.missing == "" {
		return
	}
	if testenv.Required() {
		t.Fatalf("no PostgreSQL server: %s", server.missing)
	}
	t.Skipf("no PostgreSQL server: %s", server.missing)
}

var databases atomic.Int64

// newDatabase creates an empty database and returns its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	need(t)
	ctx := t.Context()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), databases.Add(1))
	c, err := pgx.Connect(ctx, server.dsn+"/postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return server.dsn + "/" + name + "?sslmode=disable"
}

func target(t *testing.T) storetest.Target {
	dsn := newDatabase(t)
	withConn := func(ctx context.Context, f func(*pgx.Conn) error) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		return f(c)
	}
	return storetest.Target{
		Open: func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dsn) },
		Exec: func(ctx context.Context, q string) error {
			return withConn(ctx, func(c *pgx.Conn) error { _, err := c.Exec(ctx, q); return err })
		},
		Int: func(ctx context.Context, q string) (int64, error) {
			var n int64
			err := withConn(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, q).Scan(&n) })
			return n, err
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, target) }

// TestReconnect kills the Store's server connection: the next call reconnects.
func TestReconnect(t *testing.T) {
	tg := target(t)
	ctx := t.Context()
	s, err := tg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendSamples(ctx, "soak", store.Sample{Time: time.Now(), Metric: "x", Value: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	// The first call after the kill may fail on the dead connection; the one after must not.
	_ = s.AppendSamples(ctx, "soak", store.Sample{Time: time.Now(), Metric: "x", Value: 2})
	ss, err := s.Samples(ctx, "soak", 0)
	if err != nil {
		t.Fatalf("after the server dropped the connection: %v", err)
	}
	if len(ss) < 1 || ss[0].Value != 1 {
		t.Errorf("samples = %+v", ss)
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, strings.Replace(server.dsn, "plimsoll@", "nobody:s3cr3t-pw@", 1)+"/nope?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("connected with a wrong user")
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error shows the password: %v", err)
	}
}
