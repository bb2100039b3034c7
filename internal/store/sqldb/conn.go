package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Querier runs statements: a database, or one transaction on it.
type Querier interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a query and calls scan once per row, in order; the Scanner is valid only
	// during the call.
	Query(ctx context.Context, query string, scan func(Scanner) error, args ...any) error
}

// Scanner reads the columns of the current row.
type Scanner interface {
	Scan(dest ...any) error
}

// Conn is the database a Store runs on: a database/sql handle (SQLDB) or a pgx connection
// (internal/store/postgres).
type Conn interface {
	Querier
	// Tx runs f in one transaction and commits it when f returns nil; otherwise it rolls
	// back and returns f's error.
	Tx(ctx context.Context, f func(Querier) error) error
	Close() error
}

// SQLDB adapts a database/sql handle to Conn.
type SQLDB struct{ DB *sql.DB }

type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func sqlExec(ctx context.Context, q sqlQuerier, query string, args ...any) error {
	_, err := q.ExecContext(ctx, query, args...)
	return err
}

func sqlQuery(ctx context.Context, q sqlQuerier, query string, scan func(Scanner) error, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Exec runs a statement.
func (d SQLDB) Exec(ctx context.Context, query string, args ...any) error {
	return sqlExec(ctx, d.DB, query, args...)
}

// Query runs a query.
func (d SQLDB) Query(ctx context.Context, query string, scan func(Scanner) error, args ...any) error {
	return sqlQuery(ctx, d.DB, query, scan, args...)
}

// Tx runs f in a transaction.
func (d SQLDB) Tx(ctx context.Context, f func(Querier) error) error {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(sqlTx{tx}); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Close closes the handle.
func (d SQLDB) Close() error { return d.DB.Close() }

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) error {
	return sqlExec(ctx, t.tx, query, args...)
}

func (t sqlTx) Query(ctx context.Context, query string, scan func(Scanner) error, args ...any) error {
	return sqlQuery(ctx, t.tx, query, scan, args...)
}
