package wallet

import "sync"

// bounded is a map of at most max entries, safe for concurrent use: a put
// into a full one drops an entry at random (map order), so what is used
// often stays and memory stays bounded whatever callers send.
type bounded[V any] struct {
	max int
	mu  sync.RWMutex
	m   map[string]V
}

func (b *bounded[V]) get(k string) (V, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *bounded[V]) put(k string, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]V{}
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= b.max {
		for victim := range b.m {
			delete(b.m, victim)
			break
		}
	}
	b.m[k] = v
}

func (b *bounded[V]) drop(k string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}
