package inventory

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the GC percent (SetGCPercent is the only reader).
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestHoldGC: while parses run, the collector is off under a memory limit that grows with each
// parse's budget; when the last one ends, whatever order they end in, the GC percent and the memory
// limit are what they were before the first.
func TestHoldGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 40))

	first := holdGC(1 << 20)
	if p := gcPercent(); p != -1 {
		t.Errorf("GC percent during a parse = %d, want -1 (off)", p)
	}
	limit1 := debug.SetMemoryLimit(-1)
	if limit1 >= 1<<40 || limit1 < parseBudget<<20 {
		t.Errorf("memory limit during a parse of 1 MiB = %d, want at least %d and below the limit set before", limit1, parseBudget<<20)
	}
	second := holdGC(1 << 20)
	if limit2 := debug.SetMemoryLimit(-1); limit2 != limit1+parseBudget<<20+4<<20 {
		t.Errorf("memory limit with a second parse = %d, want %d", limit2, limit1+parseBudget<<20+4<<20)
	}
	first()
	if p := gcPercent(); p != -1 {
		t.Errorf("GC percent after the first of two parses ended = %d, want -1 (off)", p)
	}
	if limit := debug.SetMemoryLimit(-1); limit != limit1 {
		t.Errorf("memory limit after the first of two parses ended = %d, want %d", limit, limit1)
	}
	second()
	if p := gcPercent(); p != 150 {
		t.Errorf("GC percent after both parses = %d, want 150 as before", p)
	}
	if limit := debug.SetMemoryLimit(-1); limit != 1<<40 {
		t.Errorf("memory limit after both parses = %d, want %d as before", limit, int64(1<<40))
	}

	// A parse that fails puts them back too.
	if _, err := Parse("bad.yaml", []byte("name: [")); err == nil {
		t.Fatal("Parse accepted bad YAML")
	}
	if p := gcPercent(); p != 150 {
		t.Errorf("GC percent after a failed parse = %d, want 150", p)
	}
}
