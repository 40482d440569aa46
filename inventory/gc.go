package inventory

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Parsing allocates about 35 bytes per byte of YAML (the node tree, the shape pass, the structs), and
// almost all of it is garbage the moment Parse returns. At the collector's usual pace a 20,000-host
// file (1.8 MB) set off several collections during the parse, each marking the whole tree built so
// far: a third of Parse's CPU time. Collected once afterwards, when the tree is dead, the same
// garbage costs a fifth of that (9 ms of CPU, against 50 ms). So Parse holds the collector off while it runs, under a memory
// limit of what the process used when the first parse began plus parseBudget per byte parsed: a
// file whose parse needs more than that is collected as it goes, as before. The GC percent and the
// memory limit are the process's, so the parses running at once share one hold, and the last to
// finish puts both back as it found them (BENCHMARKS.md, "Parsing large inventories", has the
// figures).
var gcHold struct {
	sync.Mutex
	parses  int   // parses holding the collector off
	budget  int64 // their memory budgets, together
	base    int64 // the memory the process used when the first of them began
	percent int   // the GC percent before the first
	limit   int64 // the memory limit before the first
}

// parseBudget is the memory a parse may take per byte of YAML before the collector runs after all:
// about twice what one allocates in all.
const parseBudget = 64

// holdGC holds the collector off for a parse of n bytes; the function it returns ends the hold.
func holdGC(n int) (release func()) {
	budget := parseBudget*int64(n) + 4<<20
	gcHold.Lock()
	defer gcHold.Unlock()
	if gcHold.parses == 0 {
		gcHold.base = memoryInUse()
		gcHold.limit = debug.SetMemoryLimit(-1) // a negative limit only reads it
		gcHold.percent = debug.SetGCPercent(-1)
	}
	gcHold.parses++
	gcHold.budget += budget
	debug.SetMemoryLimit(min(gcHold.limit, gcHold.base+gcHold.budget))
	return func() {
		gcHold.Lock()
		defer gcHold.Unlock()
		gcHold.parses--
		gcHold.budget -= budget
		if gcHold.parses > 0 {
			debug.SetMemoryLimit(min(gcHold.limit, gcHold.base+gcHold.budget))
			return
		}
		debug.SetGCPercent(gcHold.percent)
		debug.SetMemoryLimit(gcHold.limit)
	}
}

// memoryInUse is the memory the runtime counts against a memory limit (see debug.SetMemoryLimit).
func memoryInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}
