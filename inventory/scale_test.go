package inventory

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// genInventory writes a valid-looking inventory with n hosts: a balancer, two databases and n-3 app
// hosts split between the sides, each app listed in its side.
func genInventory(n int) []byte {
	var b strings.Builder
	b.WriteString("name: big\nprobe:\n  url: http://127.0.0.1:8080/\nbalancer:\n  host: lb\n  upstream: big\n  file: /etc/nginx/conf.d/big.conf\nhosts:\n")
	b.WriteString("  lb:\n    ssh: local\n")
	b.WriteString("  db-p:\n    ssh: local\n    postgres: host=127.0.0.13 user=pitstop dbname=big\n")
	b.WriteString("  db-b:\n    ssh: local\n    postgres: host=127.0.0.14 user=pitstop dbname=big\n")
	apps := max(n-3, 2)
	for i := range apps {
		fmt.Fprintf(&b, "  app-%06d:\n    ssh: deploy@10.%d.%d.%d\n    serve: 10.%d.%d.%d:8080\n", i, i>>16&255, i>>8&255, i&255, i>>16&255, i>>8&255, i&255)
	}
	b.WriteString("sides:\n")
	for s, side := range []string{"production", "backup"} {
		fmt.Fprintf(&b, "  %s:\n    database: db-%c\n    apps:\n", side, side[0])
		for i := s; i < apps; i += 2 {
			fmt.Fprintf(&b, "      - app-%06d\n", i)
		}
	}
	b.WriteString("upgrade:\n  version: \"2.0\"\n  commands:\n    - install {version}\n")
	return []byte(b.String())
}

// parseBig parses a generated inventory; with more than a few thousand hosts the only error allowed
// is each side's rendered upstream being over the switch's limit.
func parseBig(tb testing.TB, data []byte) {
	_, err := Parse("big.yaml", data)
	for _, e := range AsErrors(err) {
		if !strings.Contains(e.Msg, "rendered upstream") {
			tb.Fatalf("unexpected error: %v", e)
		}
	}
	if err != nil && AsErrors(err) == nil {
		tb.Fatal(err)
	}
}

// BenchmarkParse measures Parse at 2,000, 20,000 and 200,000 hosts (see BENCHMARKS.md).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{2_000, 20_000, 200_000} {
		data := genInventory(n)
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				parseBig(b, data)
			}
		})
	}
}

// cpuTime is the CPU time this process has used: unlike the wall clock, it does not grow while other
// processes on a busy machine hold the cores.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParseLinear reports how much longer 20,000 hosts take than 2,000 ("ratio", target under 10
// for a linear parser), each timed as the best of several runs in CPU time so that a busy machine slows
// neither one alone. goccy/go-yaml, the parser used before, took 60 to 80 times as long for ten times the
// hosts. It is a benchmark, not a test: timings are no pass/fail verdict on a shared machine.
//
//	go test ./inventory -run '^$' -bench BenchmarkParseLinear -benchtime 1x -count 5
func BenchmarkParseLinear(b *testing.B) {
	small, big := genInventory(2_000), genInventory(20_000)
	best := func(data []byte) time.Duration {
		d := time.Duration(1 << 62)
		for range 7 {
			runtime.GC() // garbage from the run before is not this run's cost
			start := cpuTime(b)
			parseBig(b, data)
			d = min(d, cpuTime(b)-start)
		}
		return d
	}
	var ts, tb time.Duration
	for b.Loop() {
		ts, tb = best(small), best(big)
	}
	b.ReportMetric(float64(tb)/float64(ts), "ratio")
	// The two times themselves: a ratio can also fall because the small case got slower.
	b.ReportMetric(float64(ts)/1e6, "cpu-ms-2k")
	b.ReportMetric(float64(tb)/1e6, "cpu-ms-20k")
}

// BenchmarkParsePhases splits BenchmarkParseLinear's ratio by phase of Parse, each timed as there
// (best of 7, CPU time, the collector held off as Parse holds it): the YAML library's parse into
// nodes, the shape pass, the TODO scan, the decode into structs (with Defaults), the checks. For each
// phase it reports "PHASE-x", its time at 20,000 hosts over its time at 2,000, and "PHASE-ms", its
// time at 20,000.
//
//	go test ./inventory -run '^$' -bench BenchmarkParsePhases -benchtime 1x -count 3
func BenchmarkParsePhases(b *testing.B) {
	names := []string{"yaml", "shape", "todos", "decode", "check"}
	best := func(data []byte) []time.Duration {
		d := make([]time.Duration, len(names))
		for i := range d {
			d[i] = 1 << 62
		}
		for range 7 {
			runtime.GC()
			release := holdGC(len(data))
			t := []time.Duration{cpuTime(b)}
			body, err := document("big.yaml", data)
			if err != nil {
				b.Fatal(err)
			}
			t = append(t, cpuTime(b))
			sh := newShape("big.yaml", body, aliasBudget(data))
			t = append(t, cpuTime(b))
			todos("big.yaml", body)
			t = append(t, cpuTime(b))
			inv := &Inventory{}
			if err := decode(body, inv, aliasBudget(data)); err != nil {
				b.Fatal(err)
			}
			inv.Defaults()
			t = append(t, cpuTime(b))
			c := &checker{inv: inv, source: "big.yaml", shape: sh}
			c.check()
			t = append(t, cpuTime(b))
			release()
			for i := range d {
				d[i] = min(d[i], t[i+1]-t[i])
			}
		}
		return d
	}
	small, big := genInventory(2_000), genInventory(20_000)
	var ts, tb []time.Duration
	for b.Loop() {
		ts, tb = best(small), best(big)
	}
	for i, name := range names {
		b.ReportMetric(float64(tb[i])/float64(ts[i]), name+"-x")
		b.ReportMetric(float64(tb[i])/1e6, name+"-ms")
	}
}
