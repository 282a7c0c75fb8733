package jobmanager

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
)

// cancelUnknown runs while g leads. Once this leader has recovered its stored
// jobs (recovered is closed; never before: a job still being listed is not
// unknown), it tells every TaskManager that registers with tasks of a job it
// does not run (runs false: canceled, finished or removed while no leader ran
// it) to cancel them at once, instead of leaving them to run until the
// TaskManager's leaderless grace ends. The cancel carries g's leader session as
// every command does: a TaskManager that follows a newer leader refuses it. It
// only stops tasks; their job's committed output is never touched. It returns
// when ctx ends.
func (c *Coordinator) cancelUnknown(ctx context.Context, g recovery.Grant, recovered <-chan struct{}, runs func(jobID string) bool, log zerolog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-recovered:
	}
	// A registration lists its tasks once: each (registration, job) is canceled once.
	type seen struct {
		container string
		at        time.Time
		job       string
	}
	done := map[seen]bool{}
	for {
		changed := c.tms.Changed()
		tms := c.tms.List()
		// Registrations no longer listed are forgotten with their jobs.
		listed := map[seen]bool{}
		for _, tm := range tms {
			listed[seen{tm.ContainerID, tm.Registered, ""}] = true
		}
		for k := range done {
			if !listed[seen{k.container, k.at, ""}] {
				delete(done, k)
			}
		}
		for _, tm := range tms {
			for _, t := range tm.Tasks {
				k := seen{tm.ContainerID, tm.Registered, t.JobID}
				if done[k] || runs(t.JobID) {
					continue
				}
				done[k] = true
				n, err := c.client.Cancel(ctx, tm.Address, g.SessionID(), t.JobID)
				ev := log.Info()
				switch {
				case err != nil:
					ev = log.Warn().Err(err)
				case n == 0:
					ev = log.Debug() // stopped already (by this leader's own cancel of the job)
				}
				ev.Str(logging.Job, t.JobID).Str(logging.Container, tm.ContainerID).Int("canceled", n).
					Str("execution", t.Execution).
					Msg("canceled the tasks of a job this leader does not run (canceled, finished or removed while leaderless)")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
