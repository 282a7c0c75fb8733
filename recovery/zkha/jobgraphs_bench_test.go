package zkha_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// benchLarge adds the 10,000-job cases (go test -bench . ./recovery/ -recovery.large).
var benchLarge = flag.Bool("recovery.large", false, "also run the 10,000-job benchmarks")

func benchSizes() []int {
	if *benchLarge {
		return []int{1, 100, 10000}
	}
	return []int{1, 100}
}

// benchEnv is a ZooKeeper environment for benchmarks.
func benchEnv(b *testing.B) *recoverytest.Env {
	e, _ := newZKEnv(b, recoverytest.FileStorage(b))
	return e
}

func benchGraph() []byte { return make([]byte, 4096) }

func BenchmarkJobGraphPut(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			s := e.Instance().JobGraphs()
			ctx, graph := recoverytest.Context(b), benchGraph()
			round := 0
			for b.Loop() {
				round++
				for j := range n {
					if err := s.Put(ctx, e.Guard(), fmt.Sprintf("job-%d-%d", round, j), graph); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}

func BenchmarkJobGraphRecover(b *testing.B) {
	for _, n := range benchSizes() {
		for _, mode := range []string{"pipelined", "sequential"} {
			b.Run(fmt.Sprintf("jobs=%d/%s", n, mode), func(b *testing.B) {
				e := benchEnv(b)
				ctx, graph := recoverytest.Context(b), benchGraph()
				ids := make([]string, n)
				writer := e.Instance().JobGraphs()
				put := e.Instance().Pointers(recovery.JobGraphsDir)
				for j := range n {
					ids[j] = uuid.NewString()
				}
				for _, ent := range getAllPut(b, put, e, ids, graph) {
					if ent != nil {
						b.Fatal(ent)
					}
				}
				_ = writer
				reader := e.Instance().JobGraphs()
				for b.Loop() {
					got, err := reader.JobIDs(ctx)
					if err != nil || len(got) != n {
						b.Fatalf("job IDs: %d, %v", len(got), err)
					}
					if mode == "pipelined" {
						for _, ent := range reader.RecoverAll(ctx, got) {
							if ent.Err != nil {
								b.Fatal(ent.Err)
							}
						}
						continue
					}
					for _, id := range got {
						if _, err := reader.Recover(ctx, id); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
			})
		}
	}
}

// getAllPut stores many payloads concurrently (benchmark setup only).
func getAllPut(b *testing.B, ps recovery.PointerStore, e *recoverytest.Env, keys []string, payload []byte) []error {
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, k := range keys {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				errs[i] = ps.Put(recoverytest.Context(b), e.Guard(), k, payload)
			}()
		}
		for range cap(sem) {
			sem <- struct{}{}
		}
	}()
	<-done
	return errs
}
