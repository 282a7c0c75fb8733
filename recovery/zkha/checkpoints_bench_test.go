package zkha_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// forJobs runs f for every job with at most 64 in flight.
func forJobs(n int, f func(j int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for j := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[j] = f(j)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func benchCheckpointStores(b *testing.B, e *recoverytest.Env, n int) []*recovery.Checkpoints {
	inst := e.Instance()
	stores := make([]*recovery.Checkpoints, n)
	for j := range stores {
		stores[j] = inst.Checkpoints(uuid.NewString(), 1)
	}
	return stores
}

func BenchmarkCheckpointAdd(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			ctx, meta := recoverytest.Context(b), make([]byte, 1024)
			stores := benchCheckpointStores(b, e, n)
			id := int64(0)
			for b.Loop() {
				id++
				if err := forJobs(n, func(j int) error {
					_, err := stores[j].Add(ctx, e.Guard(), recovery.CompletedCheckpoint{ID: id, Timestamp: time.Now(), Metadata: meta})
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}

func BenchmarkCheckpointLatest(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			ctx, meta := recoverytest.Context(b), make([]byte, 1024)
			stores := benchCheckpointStores(b, e, n)
			if err := forJobs(n, func(j int) error {
				_, err := stores[j].Add(ctx, e.Guard(), recovery.CompletedCheckpoint{ID: 7, Metadata: meta})
				return err
			}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := forJobs(n, func(j int) error {
					cp, ok, err := stores[j].Latest(ctx)
					if err == nil && (!ok || cp.ID != 7) {
						err = fmt.Errorf("latest: %v %d", ok, cp.ID)
					}
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}
