package job

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkChain measures records per second through sequence → countWindowAll(100)
// → file sink, unpaced, while checkpoints (each a synced part and state file) are
// triggered and completed back to back.
func BenchmarkChain(b *testing.B) {
	store := newStore(b)
	g := testGraph(b, int64(b.N), 1)
	task, err := NewTask(g, 0, Env{State: store, OutputRoot: "out", Log: zerolog.Nop(),
		Pacer: func(time.Duration) Pacer { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- task.Run(ctx) }()
	var id int64
	for {
		select {
		case <-task.EndOfInput():
		default:
			id++
			if res := <-task.TriggerCheckpoint(id); res.Err != nil {
				b.Fatal(res.Err)
			}
			if err := task.NotifyCheckpointComplete(ctx, id); err != nil {
				b.Fatal(err)
			}
			continue
		}
		break
	}
	id++
	if res := <-task.TriggerCheckpoint(id); res.Err != nil {
		b.Fatal(res.Err)
	}
	if err := task.NotifyCheckpointComplete(ctx, id); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(id), "checkpoints")
}
