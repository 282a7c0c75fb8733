package zkha_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

func benchClient(b *testing.B, root string) *zkclient.Client {
	b.Helper()
	cl, err := zkclient.Connect(context.Background(), zkclient.Config{
		Servers: zkc.Addrs(), Root: root, SessionTimeout: 4 * time.Second, ConnectionTimeout: 5 * time.Second, Logger: zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	return cl
}

// BenchmarkElectionHandoverGraceful measures how long a standby takes to lead
// after the leader gives up (its latch node deleted): one iteration per handover.
func BenchmarkElectionHandoverGraceful(b *testing.B) {
	root := zkc.Root(b)
	type cand struct {
		granted chan struct{}
		resign  chan struct{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cands := make([]*cand, 2)
	done := make(chan struct{}, 2)
	for i := range cands {
		c := &cand{granted: make(chan struct{}, 1), resign: make(chan struct{})}
		cands[i] = c
		el := zkha.NewElection(zkha.ElectionConfig{Client: benchClient(b, root), Logger: zerolog.Nop()})
		go func() {
			defer func() { done <- struct{}{} }()
			_ = el.Run(ctx, func(g recovery.Grant) {
				c.granted <- struct{}{}
				select {
				case <-c.resign:
				case <-g.Done():
				}
			})
		}()
	}
	defer func() { cancel(); <-done; <-done }()
	leader := -1
	select {
	case <-cands[0].granted:
		leader = 0
	case <-cands[1].granted:
		leader = 1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := 1 - leader
		cands[leader].resign <- struct{}{}
		<-cands[next].granted
		leader = next
	}
}

// BenchmarkRetrievalNotification measures the time from a leader confirming a new
// address to a retriever in another session being told.
func BenchmarkRetrievalNotification(b *testing.B) {
	root := zkc.Root(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan recovery.LeaderInfo, 16)
	go func() {
		_ = zkha.NewBackend(benchClient(b, root), uuid.Nil, false, zerolog.Nop()).Retrieve(ctx, recovery.Dispatcher,
			func(i recovery.LeaderInfo) { seen <- i })
	}()
	grants := make(chan recovery.Grant, 1)
	el := zkha.NewElection(zkha.ElectionConfig{Client: benchClient(b, root), Logger: zerolog.Nop()})
	go func() { _ = el.Run(ctx, func(g recovery.Grant) { grants <- g; <-g.Done() }) }()
	g := <-grants
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		addr := fmt.Sprintf("am:%d", i)
		if err := g.Confirm(ctx, recovery.Dispatcher, addr); err != nil {
			b.Fatal(err)
		}
		for info := range seen {
			if info.Address == addr {
				break
			}
		}
	}
}
