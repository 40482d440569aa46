package nginx

import (
	"context"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx/nginxtest"
	"github.com/pitstop-ops/pitstop/internal/probe"
	"github.com/pitstop-ops/pitstop/inventory"
)

// BenchmarkSwitch measures a switch to backup plus the rollback to production against a real nginx,
// each proven by the probe at its default rate (20 requests/s): write, nginx -t, reload, new workers,
// and a run of probe requests served by the new side.
func BenchmarkSwitch(b *testing.B) {
	lab := nginxtest.NewLab(b, baseBench)
	pr := probe.New(lab.Inv, probe.Options{HostEvery: -1})
	pr.Start(context.Background())
	defer pr.Stop()
	bal := New(lab.Inv, lab.Runner, pr)
	ctx := context.Background()
	var sw, back time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := bal.Switch(ctx, inventory.Backup, nil); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := bal.Switch(ctx, inventory.Production, nil); err != nil {
			b.Fatal(err)
		}
		sw += t1.Sub(t0)
		back += time.Since(t1)
	}
	b.ReportMetric(float64(sw.Milliseconds())/float64(b.N), "switch-ms/op")
	b.ReportMetric(float64(back.Milliseconds())/float64(b.N), "rollback-ms/op")
	st := pr.Stats(0)
	b.ReportMetric(float64(st.Failed), "failed-probes")
}
