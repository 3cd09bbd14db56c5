package wallet

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Notifier carries "this may have changed" between the service's writers
// and its waiters (the long-polls and event streams of SPEC §3.4), by key
// (holderKey, requestKey). It is a hint, never the state: a waiter always
// reads the store again after waking, and wakes at the end of its wait
// anyway, so a lost or spurious notification costs latency, never a wrong
// answer. One process needs nothing more than a Hub; replicas over one
// database need a shared channel (postgres.Notifier: LISTEN/NOTIFY), or a
// Hub that polls (NewHub with an interval).
type Notifier interface {
	// Notify tells every watcher of key, in every process on the store,
	// that what it watches may have changed. The service calls it after
	// the transaction that made the change has committed. An error means
	// other processes may not hear of it; this one's watchers are woken.
	Notify(ctx context.Context, key string) error
	// Watch returns a channel closed at the next Notify of key (or
	// earlier: a wake-up without a change is allowed), and a func that
	// stops watching. A watcher reads the state after Watch, so a change
	// between the two is not missed.
	Watch(key string) (<-chan struct{}, func())
}

// Hub is the in-process Notifier: the default, and what the PostgreSQL
// notifier fans its notifications out with. With a poll interval, every
// watcher is also woken that often, which makes it a Notifier for
// replicas with no shared channel: each waiter reads the store again at
// least every interval.
type Hub struct {
	poll    atomic.Int64 // time.Duration; 0: no polling
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

var _ Notifier = (*Hub)(nil)

// NewHub returns a hub that wakes watchers at each Notify and, when poll
// is positive, at least every poll.
func NewHub(poll time.Duration) *Hub {
	h := &Hub{waiters: map[string]map[chan struct{}]struct{}{}}
	h.SetPoll(poll)
	return h
}

// SetPoll changes the poll interval of watches made from now on (0: none),
// for a notifier that polls only while its shared channel is down. Call
// WakeAll after it to move the current watchers onto it.
func (h *Hub) SetPoll(poll time.Duration) { h.poll.Store(int64(max(poll, 0))) }

// Watch implements Notifier.
func (h *Hub) Watch(key string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	if h.waiters[key] == nil {
		h.waiters[key] = map[chan struct{}]struct{}{}
	}
	h.waiters[key][ch] = struct{}{}
	h.mu.Unlock()
	var timer *time.Timer
	if poll := time.Duration(h.poll.Load()); poll > 0 {
		timer = time.AfterFunc(poll, func() { h.wake(key, ch) })
	}
	return ch, func() {
		if timer != nil {
			timer.Stop()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.remove(key, ch)
	}
}

// Notify implements Notifier: it wakes this process's watchers of key.
func (h *Hub) Notify(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[key] {
		close(ch)
	}
	delete(h.waiters, key)
	return nil
}

// WakeAll wakes every watcher: after notifications may have been lost
// (a shared channel reconnected), each reads the state again.
func (h *Hub) WakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, chans := range h.waiters {
		for ch := range chans {
			close(ch)
		}
		delete(h.waiters, key)
	}
}

// wake wakes one watcher, if it is still watching.
func (h *Hub) wake(key string, ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.remove(key, ch) {
		close(ch)
	}
}

// remove drops ch from key's watchers and reports whether it was there.
// h.mu is held.
func (h *Hub) remove(key string, ch chan struct{}) bool {
	if _, ok := h.waiters[key][ch]; !ok {
		return false
	}
	delete(h.waiters[key], ch)
	if len(h.waiters[key]) == 0 {
		delete(h.waiters, key)
	}
	return true
}

func holderKey(id string) string  { return "holder|" + id }
func requestKey(id string) string { return "request|" + id }

// notifyTimeout bounds a notification sent after a commit.
const notifyTimeout = 2 * time.Second

// notify tells waiters, here and on other replicas, that key may have
// changed. The change is committed already: a failure only delays
// waiters elsewhere to the end of their wait, so it is logged, not
// answered.
func (s *Service) notify(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if err := s.notifier.Notify(ctx, key); err != nil {
		s.log.WarnContext(ctx, "change notification not sent; waiters on other replicas see the change at the end of their wait",
			"err", err)
	}
}
