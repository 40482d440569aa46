package probe

// ring is a fixed-size buffer keeping the newest values: once full, each add overwrites the oldest.
// It never allocates after newRing. It is not safe for concurrent use; the Prober locks around it.
type ring[T any] struct {
	buf  []T
	next int // index the next add writes
	full bool
}

func newRing[T any](size int) *ring[T] {
	if size < 1 {
		size = 1
	}
	return &ring[T]{buf: make([]T, size)}
}

func (r *ring[T]) add(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// len is how many values the ring holds.
func (r *ring[T]) len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// each calls fn on every value, oldest first.
func (r *ring[T]) each(fn func(v *T)) {
	if r.full {
		for i := r.next; i < len(r.buf); i++ {
			fn(&r.buf[i])
		}
	}
	for i := 0; i < r.next; i++ {
		fn(&r.buf[i])
	}
}
