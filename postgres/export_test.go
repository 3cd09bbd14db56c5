package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// TextOrderBytewise is textOrderBytewise on the store's pool.
func (s *Store) TextOrderBytewise(ctx context.Context) (bool, error) {
	return textOrderBytewise(ctx, s.pool)
}

// OrderTextCollateC makes s's lists order Text columns COLLATE "C", as
// Open does on a database whose default order is not bytewise. Call it
// before the first list.
func (s *Store) OrderTextCollateC() { s.sql.collateC = true }

// MaxConns is the size of the store's pool.
func (s *Store) MaxConns() int { return int(s.pool.Config().MaxConns) }

// SessionSetting is the value of setting in a session of the store's pool.
func (s *Store) SessionSetting(ctx context.Context, setting string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&v)
	return v, err
}

// SettingSource is where a session of the store's pool took setting from
// (pg_settings.source: "client" for a startup parameter).
func (s *Store) SettingSource(ctx context.Context, setting string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT source FROM pg_settings WHERE name = $1", setting).Scan(&v)
	return v, err
}

// StartupParam is the value the pool's connections send for name at
// their start ("" if none).
func (s *Store) StartupParam(name string) string {
	return s.pool.Config().ConnConfig.RuntimeParams[name]
}

// CheckConn runs the check the pool runs on each new connection.
func (s *Store) CheckConn(ctx context.Context, conn *pgx.Conn) error {
	return s.pool.Config().AfterConnect(ctx, conn)
}

// SetTimeouts sets the bound of every store operation (opTimeout) and
// Ping's, and returns what restores them.
func SetTimeouts(op, ping time.Duration) (restore func()) {
	o, p := opTimeout, pingTimeout
	opTimeout, pingTimeout = op, ping
	return func() { opTimeout, pingTimeout = o, p }
}
