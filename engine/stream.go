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

	started chan struct{} // closed when the request leaves the wait queue
	leftQ   bool          // started is closed
	ran     bool          // the request was admitted (not ended while queued)
	admit   Usage         // prompt usage at admission (when ran)
}

func newStream() *Stream {
	return &Stream{notify: make(chan struct{}, 1), started: make(chan struct{})}
}

// start records that the request was admitted with prompt usage u
// (scheduler side).
func (s *Stream) start(u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leftQ {
		return
	}
	s.ran, s.admit, s.leftQ = true, u, true
	close(s.started)
}

// push queues an event (scheduler side). A final event for a request that
// was never admitted also ends the wait of Started.
func (s *Stream) push(ev Event) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.events = append(s.events, ev)
	s.done = ev.Done
	if ev.Done && !s.leftQ {
		s.leftQ = true
		close(s.started)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Started waits until the request leaves the wait queue. If it was
// admitted to run, ran is true and u holds its PromptTokens and
// CachedTokens (how many prompt tokens the prefix cache supplies; the final
// event's Usage repeats both). If it ended while queued, ran is false and
// the final event, from Recv, says why (StopRejected when Shutdown began,
// StopCancelled when its context ended). It returns ctx.Err() if ctx ends
// first. Calling it is optional: Recv works without it.
func (s *Stream) Started(ctx context.Context) (u Usage, ran bool, err error) {
	select {
	case <-s.started:
	case <-ctx.Done():
		return Usage{}, false, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admit, s.ran, nil
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
