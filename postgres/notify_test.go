package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eidwallet/eidwallet/postgres"
)

// woken waits up to d for ch to close.
func woken(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// notifiers opens two stores on one schema, as two replicas do, each
// with its notifier.
func notifiers(t *testing.T) (a, b *postgres.Notifier) {
	t.Helper()
	dsn := testDSN(t)
	schema := schemaFor(t.TempDir())
	sa := openSchema(t, schema)
	sb, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	a, b = postgres.NewNotifier(sa, nil), postgres.NewNotifier(sb, nil)
	t.Cleanup(func() { a.Close(); b.Close(); sb.Close(); sa.Close() })
	return a, b
}

// untilHeard notifies key on from until a watcher of key on to wakes
// within 200 ms: then to is listening (until then it polls).
func untilHeard(t *testing.T, from, to *postgres.Notifier, key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		ch, stop := to.Watch(key)
		if err := from.Notify(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		ok := woken(ch, 200*time.Millisecond)
		stop()
		if ok {
			return
		}
	}
	t.Fatal("the other store never heard a notification")
}

// TestNotifierAcrossStores: a Notify on one store wakes the watchers of
// that key on another store of the same schema (another replica) at once,
// and only them.
func TestNotifierAcrossStores(t *testing.T) {
	a, b := notifiers(t)
	untilHeard(t, a, b, "warm-up")
	if a.Channel() != b.Channel() {
		t.Fatalf("channels %q and %q for one schema", a.Channel(), b.Channel())
	}
	mine, stopMine := b.Watch("request|r1")
	defer stopMine()
	other, stopOther := b.Watch("request|r2")
	defer stopOther()
	start := time.Now()
	if err := a.Notify(t.Context(), "request|r1"); err != nil {
		t.Fatal(err)
	}
	if !woken(mine, time.Second) {
		t.Fatal("the watcher on the other store did not wake within 1 s")
	}
	t.Logf("heard after %s", time.Since(start))
	if woken(other, 200*time.Millisecond) {
		t.Error("a watcher of another key woke")
	}
	// The notifying store's own watchers wake too.
	local, stop := a.Watch("holder|h1")
	defer stop()
	if err := a.Notify(t.Context(), "holder|h1"); err != nil || !woken(local, time.Second) {
		t.Errorf("the notifying store's watcher: woken false, %v", err)
	}
}

// TestNotifierReconnects: when its listening connection is cut, a
// notifier wakes every watcher (a notification may have been missed, so
// each reads the state again), reconnects, and hears notifications again.
func TestNotifierReconnects(t *testing.T) {
	a, b := notifiers(t)
	untilHeard(t, a, b, "warm-up") // both listen before both are cut
	untilHeard(t, b, a, "warm-up")
	waiting, stop := b.Watch("request|r1")
	defer stop()
	conn, err := pgx.Connect(t.Context(), testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// Both notifiers listen on the channel: cut both connections.
	tag, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query = 'LISTEN '||$1`, pgx.Identifier{b.Channel()}.Sanitize())
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("terminate the listening connections: %v, %d rows", err, tag.RowsAffected())
	}
	if !woken(waiting, 2*time.Second) {
		t.Fatal("the watcher was not woken when the connection was lost")
	}
	untilHeard(t, a, b, "request|r1")
}
