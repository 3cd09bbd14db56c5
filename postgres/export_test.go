package postgres

import "context"

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
