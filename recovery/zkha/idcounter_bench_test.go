package zkha_test

import (
	"testing"

	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

func BenchmarkCheckpointIDCounterIncrement(b *testing.B) {
	e := benchEnv(b)
	c := e.Instance().Counter("job1")
	ctx := recoverytest.Context(b)
	for b.Loop() {
		if _, err := c.GetAndIncrement(ctx, e.Guard()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incr/s")
}
