package recovery

import (
	"context"

	"github.com/google/uuid"
)

// Components that take part in leader election and retrieval.
const (
	ResourceManager = "resource_manager"
	Dispatcher      = "dispatcher"
	RestServer      = "rest_server"
)

// Grant is one grant of leadership, as handed to the function given to
// LeaderElection.Run. It is the Guard for store writes made while it lasts.
type Grant interface {
	Guard
	// Context is cancelled when leadership is lost; context.Cause says why.
	Context() context.Context
	// Done is closed when leadership is lost.
	Done() <-chan struct{}
	// Confirm publishes address and this grant's leader session ID for component,
	// for leader retrieval, while the grant lasts.
	Confirm(ctx context.Context, component, address string) error
}

// LeaderElection is one process's participation in electing the leader of every
// component (resource manager, dispatcher, REST server, job managers).
//
// Run contends until ctx ends. Each grant is passed to lead on Run's goroutine;
// lead must return soon after the grant's Done is closed. If lead returns while the
// grant is still held, leadership is given up and Run contends again.
type LeaderElection interface {
	Run(ctx context.Context, lead func(Grant)) error
	// HasLeadership reports whether the grant with this leader session ID is held.
	HasLeadership(id uuid.UUID) bool
}

// LeaderInfo is what a component's leader publishes. The zero value means no
// leader is known.
type LeaderInfo struct {
	Address   string    `json:"address"`
	SessionID uuid.UUID `json:"sessionId"`
}

// Known reports whether a leader is known.
func (i LeaderInfo) Known() bool { return i.SessionID != uuid.Nil }

// LeaderRetriever follows the leader a LeaderElection publishes.
type LeaderRetriever interface {
	// Retrieve follows component's leader until ctx ends and calls notify, on the
	// calling goroutine, with the current leader first and then on every change; a
	// zero LeaderInfo means no leader is known. It returns ctx.Err().
	Retrieve(ctx context.Context, component string, notify func(LeaderInfo)) error
}
