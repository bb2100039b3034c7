// Package postgres is the store for teams: a PostgreSQL database shared by every plimsoll
// that is given its DSN, through pgx.
//
// Each Store holds one connection (reconnected when the server drops it) and runs one
// statement or transaction on it at a time: plimsoll's writes are few and small, and one
// connection per process keeps a team's server free of idle pools.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqldb"
)

// migrationLock is the pg_advisory_xact_lock key that serializes migrations ("plim" in ASCII).
const migrationLock = 0x706c696d

var dialect = sqldb.Dialect{
	Name:           "postgres",
	Numbered:       true,
	LockMigrations: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLock),
}

// Open connects to the database of dsn ("postgres://user:pass@host:port/db?sslmode=…" or the
// libpq key=value form) and migrates it. The DSN, which may hold a password, is not put in
// errors.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	s, err := sqldb.Open(ctx, &conn{cfg: cfg, c: c}, dialect)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// conn is a sqldb.Conn over one pgx connection, used by one caller at a time.
type conn struct {
	cfg *pgx.ConnConfig
	mu  sync.Mutex
	c   *pgx.Conn
}

// acquire locks the connection, reconnecting it if the server closed it.
func (p *conn) acquire(ctx context.Context) (*pgx.Conn, error) {
	p.mu.Lock()
	if p.c == nil {
		p.mu.Unlock()
		return nil, errors.New("store is closed")
	}
	if p.c.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, p.cfg)
		if err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("reconnect to %s:%d: %w", p.cfg.Host, p.cfg.Port, err)
		}
		p.c = c
	}
	return p.c, nil
}

func (p *conn) Exec(ctx context.Context, query string, args ...any) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	return exec(ctx, c, query, args...)
}

func (p *conn) Query(ctx context.Context, query string, scan func(sqldb.Scanner) error, args ...any) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	return query1(ctx, c, query, scan, args...)
}

func (p *conn) Tx(ctx context.Context, f func(sqldb.Querier) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(pgxTx{tx}); err != nil {
		return errors.Join(err, ignoreClosed(tx.Rollback(context.WithoutCancel(ctx))))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (p *conn) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		return nil
	}
	err := p.c.Close(context.Background())
	p.c = nil
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t pgxTx) Query(ctx context.Context, query string, scan func(sqldb.Scanner) error, args ...any) error {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return scanRows(rows, scan)
}

func exec(ctx context.Context, c *pgx.Conn, query string, args ...any) error {
	_, err := c.Exec(ctx, query, args...)
	return err
}

func query1(ctx context.Context, c *pgx.Conn, query string, scan func(sqldb.Scanner) error, args ...any) error {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return scanRows(rows, scan)
}

func scanRows(rows pgx.Rows, scan func(sqldb.Scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
