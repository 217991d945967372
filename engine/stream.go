package engine

import (
	"context"
	"io"
	"sync"
)

// Stream delivers the events of one submitted request. The scheduler never
// blocks on a slow reader: events queue up in the stream until Recv takes
// them. Recv is for one reader goroutine.
type Stream struct {
	mu     sync.Mutex
	events []Event
	done   bool          // the final event has been queued
	notify chan struct{} // capacity 1: an event was queued
	taken  bool          // the final event has been returned by Recv
}

func newStream() *Stream { return &Stream{notify: make(chan struct{}, 1)} }

// push queues an event (scheduler side).
func (s *Stream) push(ev Event) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.events = append(s.events, ev)
	s.done = ev.Done
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Recv returns the next event, waiting for one. After the final event (Done
// set) it returns io.EOF. If ctx ends first it returns ctx.Err(); cancelling
// the request itself is done through the context given to Submit.
func (s *Stream) Recv(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if len(s.events) > 0 {
			ev := s.events[0]
			s.events[0] = Event{}
			s.events = s.events[1:]
			s.taken = s.taken || ev.Done
			s.mu.Unlock()
			return ev, nil
		}
		taken := s.taken
		s.mu.Unlock()
		if taken {
			return Event{}, io.EOF
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}
