package jobmanager

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/recovery"
)

// CancelUnknown runs the coordinator's cancel of tasks of unknown jobs for the
// dispatcher d's current grant g until ctx ends (the AM runs it in lead).
func (c *Coordinator) CancelUnknown(ctx context.Context, g recovery.Grant, d *Dispatcher, log zerolog.Logger) {
	c.cancelUnknown(ctx, g, d.recoveredSignal(), d.runs, log)
}
