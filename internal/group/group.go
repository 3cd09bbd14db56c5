// Package group runs concurrent calls of one kind together, a group at a
// time, without a timer: a call that finds no group in flight starts one
// at once; calls arriving while it is in flight queue and go together in
// the next. Groups grow with the load and a lone call never waits (group
// commit with no commit delay, as PostgreSQL does by default). The stores
// use it for their commits (bolt: one fsync a group) and round trips
// (postgres: one a group).
package group

import "sync"

// Group queues calls of type C for Run, which answers each call of a
// group (through whatever the call carries: a channel) before it returns.
// Run is called from one goroutine at a time.
type Group[C any] struct {
	Max int       // most calls in one group (at least 1)
	Run func([]C) // answers every call of a group

	mu      sync.Mutex
	pending []C
	running bool // a goroutine is running groups
}

// Add queues c; its caller then waits for Run to answer it.
func (g *Group[C]) Add(c C) {
	g.mu.Lock()
	g.pending = append(g.pending, c)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.loop()
	}
}

// loop runs queued calls, a group at a time, until none is left.
func (g *Group[C]) loop() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), max(g.Max, 1))
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		calls := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.Run(calls)
	}
}
