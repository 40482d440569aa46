package probe

import (
	"testing"
	"time"
)

func TestRingWrapsWithoutGrowing(t *testing.T) {
	r := newRing[int](5)
	first := &r.buf[0]
	for i := 1; i <= 17; i++ {
		r.add(i)
		if want := min(i, 5); r.len() != want {
			t.Fatalf("after %d adds len = %d, want %d", i, r.len(), want)
		}
	}
	var got []int
	r.each(func(v *int) { got = append(got, *v) })
	if want := []int{13, 14, 15, 16, 17}; !equal(got, want) {
		t.Errorf("ring holds %v, want %v (oldest first)", got, want)
	}
	if len(r.buf) != 5 || cap(r.buf) != 5 || &r.buf[0] != first {
		t.Errorf("ring buffer reallocated or grew: len %d cap %d", len(r.buf), cap(r.buf))
	}
	if allocs := testing.AllocsPerRun(1000, func() { r.add(1) }); allocs != 0 {
		t.Errorf("add allocates %v times", allocs)
	}
}

func TestRingPartlyFilled(t *testing.T) {
	r := newRing[int](4)
	r.add(1)
	r.add(2)
	var got []int
	r.each(func(v *int) { got = append(got, *v) })
	if !equal(got, []int{1, 2}) {
		t.Errorf("ring holds %v, want [1 2]", got)
	}
}

// A prober's history is sized by Keep and Rate, and stays that size however long it runs.
func TestProberHistoryIsBounded(t *testing.T) {
	p := New(labInventory(), Options{Rate: 10, Keep: 2 * time.Second})
	capacity := len(p.reads.buf)
	if capacity != 30 { // 2s × 10/s, plus one second of slack
		t.Fatalf("history holds %d requests, want 30", capacity)
	}
	now := time.Now()
	for i := 0; i < 10*capacity; i++ {
		p.addRead(record{seq: uint64(i), start: now, ok: true})
	}
	if p.reads.len() != capacity || len(p.reads.buf) != capacity {
		t.Errorf("after %d requests the history holds %d in a buffer of %d, want %d", 10*capacity, p.reads.len(), len(p.reads.buf), capacity)
	}
	if st := p.Stats(0); st.Requests != capacity {
		t.Errorf("Stats over the whole history counts %d requests, want %d", st.Requests, capacity)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
