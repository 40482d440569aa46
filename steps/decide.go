package steps

import (
	"context"
	"sync"
)

// decisionQueue holds the operator's decisions in order until the engine takes them. Decide must
// never block (the cockpit calls it from its update loop) and must never drop a decision: a fixed
// channel buffer did both wrong once full, so the queue grows instead and one pump goroutine hands
// the decisions over one at a time.
type decisionQueue struct {
	mu    sync.Mutex
	items []Decision
	wake  chan struct{} // cap 1: something was pushed
}

func (q *decisionQueue) signal() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// push appends d; it never blocks.
func (q *decisionQueue) push(d Decision) {
	q.mu.Lock()
	q.items = append(q.items, d)
	w := q.signal()
	q.mu.Unlock()
	select {
	case w <- struct{}{}:
	default:
	}
}

// pump delivers queued decisions to out, in order, until ctx ends.
func (q *decisionQueue) pump(ctx context.Context, out chan<- Decision) {
	q.mu.Lock()
	w := q.signal()
	q.mu.Unlock()
	for {
		q.mu.Lock()
		var d Decision
		have := len(q.items) > 0
		if have {
			d = q.items[0]
		}
		q.mu.Unlock()
		if !have {
			select {
			case <-ctx.Done():
				return
			case <-w:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case out <- d:
			q.mu.Lock()
			q.items = q.items[1:]
			q.mu.Unlock()
		}
	}
}
