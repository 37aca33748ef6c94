package app

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
)

// downStore is a FAKE index.Store whose Ping fails while down is set.
type downStore struct {
	index.Store
	down atomic.Bool
}

func (s *downStore) Ping(context.Context) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

// TestPingerReportsAnIdleOutage: /readyz must say the index is down even
// when no message arrives to discover it, and recover on its own.
func TestPingerReportsAnIdleOutage(t *testing.T) {
	store := &downStore{}
	store.down.Store(true)
	p := &pinger{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx, store); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, "the outage reported", func() bool { return p.err() != nil })
	store.down.Store(false)
	waitUntil(t, "the index ready again", func() bool { return p.err() == nil })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
