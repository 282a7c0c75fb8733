package containers

import "sync"

// Subscribe returns a channel that receives a CompletedEvent for every container that
// completes from now on, in the order they were reaped, and a function that ends the
// subscription and closes the channel. Events queue without bound, so a slow reader
// never delays the reaper or other subscribers; a reader that stops reading must call
// cancel. After Close the channel is closed once the queued events are delivered;
// subscribing after Close returns a closed channel. Completions before Subscribe are
// not replayed: List has them.
func (m *Manager) Subscribe() (events <-chan CompletedEvent, cancel func()) {
	s := &subscriber{
		ch:   make(chan CompletedEvent),
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
	}
	m.mu.Lock()
	if m.closed {
		s.finish() // nothing more will be published
	} else {
		m.subs[s] = struct{}{}
	}
	m.mu.Unlock()
	go s.pump()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, s)
			m.mu.Unlock()
			close(s.quit)
		})
	}
}

// subscriber is one Subscribe call: an unbounded queue drained by a pump goroutine.
type subscriber struct {
	ch   chan CompletedEvent
	wake chan struct{} // capacity 1: "the queue changed"
	quit chan struct{} // closed by cancel

	mu       sync.Mutex
	queue    []CompletedEvent
	finished bool // no more pushes; close ch once the queue is empty
}

// push queues ev; it never blocks.
func (s *subscriber) push(ev CompletedEvent) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.poke()
}

// finish marks the end of the stream.
func (s *subscriber) finish() {
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	s.poke()
}

func (s *subscriber) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) pump() {
	defer close(s.ch)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			fin := s.finished
			s.mu.Unlock()
			if fin {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.quit:
				return
			}
		}
		next := s.queue[0]
		s.mu.Unlock()
		select {
		case s.ch <- next:
			s.mu.Lock()
			s.queue[0] = CompletedEvent{}
			s.queue = s.queue[1:]
			s.mu.Unlock()
		case <-s.quit:
			return
		}
	}
}
