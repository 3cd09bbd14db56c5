package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what a tx sends its statements through.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error)
}

// pipelined is a transaction on one pooled connection whose BEGIN goes
// out with its first statement, as one pipeline (one round trip), so a
// transaction saves a round trip and one that sends nothing costs none.
// COMMIT and ROLLBACK are sent only after a BEGIN was.
type pipelined struct {
	conn *pgxpool.Conn
	// begin is the BEGIN …, until the first statement takes it; "" once
	// it went, or from the start for statements that need none (a Fetch's
	// one statement, Store.Apply's own batch), which never call end.
	begin string
}

var _ querier = (*pipelined)(nil)

// beginSQL is the BEGIN of opts.
func beginSQL(opts pgx.TxOptions) string {
	sql := "BEGIN"
	if opts.IsoLevel != "" {
		sql += " ISOLATION LEVEL " + string(opts.IsoLevel)
	}
	if opts.AccessMode != "" {
		sql += " " + string(opts.AccessMode)
	}
	return sql
}

// first sends the BEGIN and sql as one batch and returns the batch with
// the BEGIN's result read; nil once BEGIN has gone.
func (p *pipelined) first(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if p.begin == "" {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return p.SendBatch(ctx, b)
}

// SendBatch sends b, after the BEGIN when it has not gone yet, as one
// round trip; the BEGIN's result is read.
func (p *pipelined) SendBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if p.begin == "" {
		return p.conn.SendBatch(ctx, b), nil
	}
	withBegin := &pgx.Batch{}
	withBegin.Queue(p.begin)
	withBegin.QueuedQueries = append(withBegin.QueuedQueries, b.QueuedQueries...)
	p.begin = ""
	br := p.conn.SendBatch(ctx, withBegin)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return br, nil
}

func (p *pipelined) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := p.first(ctx, sql, args)
	if br == nil && err == nil {
		return p.conn.Exec(ctx, sql, args...)
	}
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

func (p *pipelined) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := p.first(ctx, sql, args)
	if br == nil && err == nil {
		return p.conn.Query(ctx, sql, args...)
	}
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, br.Close())
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (p *pipelined) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := p.Query(ctx, sql, args...)
	return &firstRow{rows: rows, err: err}
}

// end commits (or rolls back) what was begun; nothing when nothing was
// sent. A COMMIT that PostgreSQL answers with ROLLBACK (the transaction
// had failed) is an error, as pgx.Tx's Commit makes it.
func (p *pipelined) end(ctx context.Context, commit bool) error {
	if p.begin != "" {
		return nil
	}
	if !commit {
		_, err := p.conn.Exec(ctx, "ROLLBACK")
		return err
	}
	tag, err := p.conn.Exec(ctx, "COMMIT")
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback
	}
	return err
}

// batchRows closes the batch of the first statement with its rows.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Close() {
	if r.br != nil {
		r.Rows.Close()
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// firstRow is pgx's QueryRow over Query: the first row, ErrNoRows when
// there is none, the rows closed after Scan.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
