package main

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMarkSeenAtOnce: scans at one counter at the same moment, as two
// runs of verify-offline --seen: of those of one code exactly one is
// fresh, and none drops another's line, so every code is refused after
// (THREATS T39).
func TestMarkSeenAtOnce(t *testing.T) {
	now := time.Now()
	exp := now.Add(time.Minute)
	for trial := range 20 {
		path := filepath.Join(t.TempDir(), "seen")
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := map[string]int{}
		ctis := []string{"same", "same", "same", "same", "own-0", "own-1", "own-2", "own-3"}
		for _, cti := range ctis {
			wg.Go(func() {
				ok, err := markSeen(path, cti, exp, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					fresh[cti]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, cti := range []string{"same", "own-0", "own-1", "own-2", "own-3"} {
			if fresh[cti] != 1 {
				t.Errorf("trial %d: %s fresh %d times at once, want once", trial, cti, fresh[cti])
			}
			if ok, err := markSeen(path, cti, exp, now); ok || err != nil {
				t.Errorf("trial %d: %s scanned again after: fresh %v, %v; want refused", trial, cti, ok, err)
			}
		}
		if t.Failed() {
			return
		}
	}
}
