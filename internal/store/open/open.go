// Package open opens the store a DSN names: the embedded SQLite database by default, a SQLite
// file at a given path, or a PostgreSQL database. It is apart from package store so that the
// backends can import store without a cycle.
package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/postgres"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
)

// ErrBadDSN is returned (wrapped) for a DSN of no accepted form.
var ErrBadDSN = errors.New("unrecognised store DSN")

// Accepted lists the DSN forms, for help texts and errors.
const Accepted = `"" (SQLite at the default path), "sqlite:///abs/path.db", a file path, or "postgres://…" / "postgresql://…"`

// Kind says which backend a DSN selects.
type Kind string

// Backends.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Parse returns the backend dsn selects and its argument: the SQLite file path (the default
// path for "") or the PostgreSQL DSN unchanged. Anything else is ErrBadDSN: there is no
// fallback.
func Parse(dsn string) (Kind, string, error) {
	switch {
	case dsn == "":
		p, err := sqlite.DefaultPath()
		return SQLite, p, err
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		u, err := url.Parse(dsn)
		if err != nil || u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.Path == "" || u.RawQuery != "" {
			return "", "", fmt.Errorf("%w %q: a SQLite DSN is sqlite:///absolute/path.db", ErrBadDSN, redact(dsn))
		}
		return SQLite, u.Path, nil
	case strings.Contains(dsn, "://"), strings.Contains(dsn, "="):
		return "", "", fmt.Errorf("%w %q: use %s", ErrBadDSN, redact(dsn), Accepted)
	default:
		return SQLite, dsn, nil
	}
}

// Open opens the store dsn selects (see Parse).
func Open(ctx context.Context, dsn string) (store.Store, error) {
	kind, arg, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	if kind == Postgres {
		return postgres.Open(ctx, arg)
	}
	return sqlite.Open(ctx, arg)
}

// redact hides a password a DSN may carry.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "password") || strings.Contains(dsn, "@") {
			return "(hidden)"
		}
		return dsn
	}
	return u.Redacted()
}
