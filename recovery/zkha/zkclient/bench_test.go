package zkclient_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/amkeeper/amkeeper/integration/zktest"
)

// concurrently runs f(0..n-1) from n goroutines at once, as a recovering leader
// does, and fails b on the first error.
func concurrently(b *testing.B, n int, f func(i int) error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCoalesced times 10,000 concurrent reads, creates, and creates each
// followed by a read, against a ZooKeeper that fsyncs its log (as a real one does).
func BenchmarkCoalesced(b *testing.B) {
	const n = 10000
	c := zktest.Start(b, zktest.WithForceSync(true))
	cl := connect(b, c, c.Root(b))
	ctx := b.Context()
	if _, err := cl.Create(ctx, "/d", nil, 0); err != nil {
		b.Fatal(err)
	}
	concurrently(b, n, func(i int) error {
		return cl.CreateCoalesced(ctx, fmt.Sprintf("/d/%05d", i), make([]byte, 100), 0)
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			concurrently(b, n, func(i int) error {
				_, _, err := cl.GetCoalesced(ctx, fmt.Sprintf("/d/%05d", i))
				return err
			})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/op")
	})
	round := 0
	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			round++
			concurrently(b, n, func(i int) error {
				return cl.CreateCoalesced(ctx, fmt.Sprintf("/d/%05d/c%d", i, round), nil, zk.FlagEphemeral)
			})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/op")
	})
	b.Run("create+get", func(b *testing.B) {
		for b.Loop() {
			round++
			concurrently(b, n, func(i int) error {
				p := fmt.Sprintf("/d/%05d", i)
				if err := cl.CreateCoalesced(ctx, fmt.Sprintf("%s/c%d", p, round), nil, zk.FlagEphemeral); err != nil {
					return err
				}
				_, _, err := cl.GetCoalesced(ctx, p)
				return err
			})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/op")
	})
}
