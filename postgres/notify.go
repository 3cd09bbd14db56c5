package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/wallet"
)

// Notifier is a wallet.Notifier for replicas over one database, on
// PostgreSQL LISTEN/NOTIFY: Notify is a pg_notify on the store's channel
// with the key as payload, and one dedicated connection per process
// LISTENs on it and wakes that process's watchers of the key.
//
// The notification is sent after the change's transaction has committed,
// on its own (the service calls Notify once Update returns), not inside
// the transaction: the store's Tx stays the same on every store, and a
// NOTIFY inside a transaction holds PostgreSQL's global notification-queue
// lock through its commit, which would serialize the commits of every
// transaction that notifies. The cost is a window: a process dying between
// commit and notify sends nothing, and waiters elsewhere see the change at
// the end of their wait (at most api.MaxWait), when they read the state
// anyway. A notification is only ever a hint (wallet.Notifier).
//
// While the listening connection is down (at start, after a failure)
// nothing is heard, so the notifier falls back to polling: each watcher is
// woken every pollWhileDown. Once listening again every watcher is woken,
// to read what changed meanwhile. Reconnection backs off from
// minReconnect to maxReconnect.
type Notifier struct {
	store   *Store
	channel string
	hub     *wallet.Hub
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}
}

var _ wallet.Notifier = (*Notifier)(nil)

const (
	pollWhileDown = time.Second
	minReconnect  = 100 * time.Millisecond
	maxReconnect  = 5 * time.Second
)

// NewNotifier starts listening for the changes of the store's schema, on a
// connection of its own, until Close. The channel is named after the
// schema, so stores in other schemas of the same database do not hear
// each other.
func NewNotifier(s *Store, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{store: s, channel: channelOf(s), hub: wallet.NewHub(pollWhileDown), log: log, cancel: cancel,
		done: make(chan struct{})}
	go n.listen(ctx)
	return n
}

// channelOf names the channel of the store's schema: its search_path,
// hashed to stay within PostgreSQL's 63-byte identifiers whatever the
// schema's name.
func channelOf(s *Store) string {
	sum := sha256.Sum256([]byte(s.pool.Config().ConnConfig.RuntimeParams["search_path"]))
	return "eidwallet_" + hex.EncodeToString(sum[:12])
}

// Channel is the name of the channel the notifier sends and listens on.
func (n *Notifier) Channel() string { return n.channel }

// Notify implements wallet.Notifier: it wakes this process's watchers of
// key at once and tells the other processes through pg_notify.
func (n *Notifier) Notify(ctx context.Context, key string) error {
	_ = n.hub.Notify(ctx, key)
	ctx, cancel := bounded(ctx)
	defer cancel()
	if _, err := n.store.pool.Exec(ctx, "SELECT pg_notify($1, $2)", n.channel, key); err != nil {
		return fmt.Errorf("postgres: notify: %w", err)
	}
	return nil
}

// Watch implements wallet.Notifier.
func (n *Notifier) Watch(key string) (<-chan struct{}, func()) { return n.hub.Watch(key) }

// Close stops listening and closes the connection. Watchers still waiting
// wake at the end of their wait.
func (n *Notifier) Close() {
	n.cancel()
	<-n.done
}

// listen keeps a LISTEN session up until ctx ends, reconnecting with
// jittered exponential backoff.
func (n *Notifier) listen(ctx context.Context) {
	defer close(n.done)
	delay := minReconnect
	for {
		began := time.Now()
		err := n.session(ctx)
		// Nothing is heard from here on: watchers poll, and each reads
		// the state now, since a notification may have been missed.
		n.hub.SetPoll(pollWhileDown)
		n.hub.WakeAll()
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxReconnect {
			delay = minReconnect // it was up for a while: a new failure
		}
		n.log.Warn("postgres notifications: not listening; waiters poll the store every second until reconnected",
			"err", err, "retry_in", delay.String())
		if sleep(ctx, jitter(delay)) != nil {
			return
		}
		delay = min(2*delay, maxReconnect)
	}
}

// session connects, LISTENs and wakes watchers for each notification
// until the connection fails or ctx ends.
func (n *Notifier) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.store.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Listening: polling stops, and every watcher reads what changed
	// while nothing was heard.
	n.hub.SetPoll(0)
	n.hub.WakeAll()
	n.log.Info("postgres notifications: listening", "channel", n.channel)
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		_ = n.hub.Notify(ctx, nt.Payload)
	}
}
