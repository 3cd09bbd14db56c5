package group

import (
	"slices"
	"sync"
	"testing"
)

// TestGroupsFormWhileOneIsInFlight: a lone call runs at once, alone;
// calls added while a group runs go together in the next, at most Max a
// group, in the order they came; every call is answered.
func TestGroupsFormWhileOneIsInFlight(t *testing.T) {
	release, inFlight := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	g := &Group[int]{Max: 4}
	var answered sync.WaitGroup
	g.Run = func(calls []int) {
		if calls[0] == 0 {
			close(inFlight)
			<-release // the first group stays in flight while the others queue
		}
		mu.Lock()
		groups = append(groups, slices.Clone(calls))
		mu.Unlock()
		for range calls {
			answered.Done()
		}
	}
	answered.Add(11)
	g.Add(0)
	<-inFlight
	for i := 1; i <= 10; i++ {
		g.Add(i)
	}
	close(release)
	answered.Wait()
	want := [][]int{{0}, {1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10}}
	mu.Lock()
	defer mu.Unlock()
	if !slices.EqualFunc(groups, want, slices.Equal[[]int]) {
		t.Errorf("groups %v, want %v", groups, want)
	}
}
