package zkha_test

import (
	"testing"
)

func BenchmarkCheckpointIDCounterIncrement(b *testing.B) {
	e := benchEnv(b)
	c := e.instance().counter("job1")
	ctx := hsCtx(b)
	for b.Loop() {
		if _, err := c.GetAndIncrement(ctx, e.guard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incr/s")
}
