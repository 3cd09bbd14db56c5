package wallet

import "sync"

// hub wakes long-polls and event streams when a request changes or a
// holder receives one. It is in-process: replicas over PostgreSQL need a
// shared notification channel (LISTEN/NOTIFY) in its place.
type hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// watch returns a channel closed at the next notify of key, and a func
// that stops watching.
func (h *hub) watch(key string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	if h.waiters == nil {
		h.waiters = map[string]map[chan struct{}]struct{}{}
	}
	if h.waiters[key] == nil {
		h.waiters[key] = map[chan struct{}]struct{}{}
	}
	h.waiters[key][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.waiters[key][ch]; ok {
			delete(h.waiters[key], ch)
			if len(h.waiters[key]) == 0 {
				delete(h.waiters, key)
			}
		}
	}
}

func (h *hub) notify(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[key] {
		close(ch)
	}
	delete(h.waiters, key)
}

func holderKey(id string) string  { return "holder|" + id }
func requestKey(id string) string { return "request|" + id }
