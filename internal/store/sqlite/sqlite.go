// Package sqlite is the embedded store: one SQLite file in the user's state directory, pure Go
// (no cgo), in WAL mode so that a soak can write while another process reads.
//
// It uses the "sqlite" database/sql driver of github.com/glebarez/go-sqlite, the one grype
// already links; a second SQLite driver registering the same name would panic at start.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "github.com/glebarez/go-sqlite" // registers the "sqlite" driver

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqldb"
)

// BusyTimeoutMillis is how long a write waits for another connection or process holding
// the database's write lock before it fails.
const BusyTimeoutMillis = 10000

var dialect = sqldb.Dialect{Name: "sqlite"}

// DefaultPath returns the database's default location: $XDG_STATE_HOME/plimsoll/plimsoll.db,
// else ~/.local/state/plimsoll/plimsoll.db.
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "plimsoll", "plimsoll.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("sqlite: default database path: %w", err)
	}
	return filepath.Join(home, ".local", "state", "plimsoll", "plimsoll.db"), nil
}

// Open opens (creating it and its directory when missing) the database file at path and
// migrates it. A relative path is relative to the working directory. Writes are durable when they return: the journal is synced on every commit
// (synchronous=FULL), and transactions take the write lock when they begin, waiting up to
// BusyTimeoutMillis for another writer.
func Open(ctx context.Context, path string) (store.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// The driver reads a file: URL; a relative path would make "file://runs.db" (a host, no
	// path), so the URL is built from the absolute path.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s, err := sqldb.Open(ctx, sqldb.SQLDB{DB: db}, dialect)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}
