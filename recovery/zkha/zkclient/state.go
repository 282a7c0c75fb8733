package zkclient

import (
	"context"
	"sync"
)

// State is a connection state in Curator's vocabulary.
type State int

const (
	// Connected: the first session was established.
	Connected State = iota + 1
	// Suspended: the connection dropped; the session may still be alive. Leaders
	// should stop acting unless they tolerate suspended connections.
	Suspended
	// Reconnected: connected again after Suspended or Lost. Event.NewSession tells
	// whether the session (and its ephemeral nodes) survived.
	Reconnected
	// Lost: the session expired, or the client was disconnected for longer than the
	// negotiated session timeout and must presume it expired.
	Lost
	// Closed: Close was called. No event follows.
	Closed
)

func (s State) String() string {
	switch s {
	case Connected:
		return "CONNECTED"
	case Suspended:
		return "SUSPENDED"
	case Reconnected:
		return "RECONNECTED"
	case Lost:
		return "LOST"
	case Closed:
		return "CLOSED"
	}
	return "UNKNOWN"
}

// Event is one connection state change.
type Event struct {
	State State
	// SessionID is the session the client holds after this event (0 when none).
	SessionID int64
	// NewSession is true on Reconnected when the session differs from the one held
	// before the connection dropped: every ephemeral node of the old one is gone.
	NewSession bool
}

// Listener receives every state change after it was created, in order, without
// loss. Its queue is unbounded, so a slow listener never blocks the client.
type Listener struct {
	mu     sync.Mutex
	queue  []Event
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
	remove func(*Listener)
}

func newListener(remove func(*Listener)) *Listener {
	return &Listener{signal: make(chan struct{}, 1), done: make(chan struct{}), remove: remove}
}

func (l *Listener) push(e Event) {
	l.mu.Lock()
	l.queue = append(l.queue, e)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// Next returns the next event. It returns ctx.Err() when ctx ends first and
// ErrClosed once the listener or the client is closed and the queue is drained.
func (l *Listener) Next(ctx context.Context) (Event, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			e := l.queue[0]
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return e, nil
		}
		l.mu.Unlock()
		select {
		case <-l.signal:
		case <-l.done:
			l.mu.Lock()
			empty := len(l.queue) == 0
			l.mu.Unlock()
			if empty {
				return Event{}, ErrClosed
			}
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// C returns a channel that receives a value whenever events may be waiting; use it
// in a select and then drain with TryNext.
func (l *Listener) C() <-chan struct{} { return l.signal }

// TryNext returns the next queued event without waiting.
func (l *Listener) TryNext() (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return Event{}, false
	}
	e := l.queue[0]
	l.queue = l.queue[1:]
	return e, true
}

// Drain drops every queued event.
func (l *Listener) Drain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = nil
}

// Close stops delivery to this listener. It is idempotent.
func (l *Listener) Close() {
	l.once.Do(func() {
		close(l.done)
		if l.remove != nil {
			l.remove(l)
		}
	})
}
