package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
	"github.com/pitstop-ops/pitstop/internal/testenv"
	"github.com/pitstop-ops/pitstop/inventory"
)

// TestMain: the lab runs this test binary as its pitstop binary (see lab.StandIn).
func TestMain(m *testing.M) {
	lab.StandIn()
	standInRehearse() // `TESTBINARY rehearse …` runs pitstop rehearse (rehearse_test.go)
	os.Exit(m.Run())
}

// Port bases of the tests' labs (this package owns 17000–17799; `pitstop lab bench` tests use 17800).
// Each lab uses base … base+80 on 127.0.0.1 and 127.0.0.10–14. The tests run one after another.
const (
	baseReadonly    = 17000
	baseReverse     = 17100
	baseRollback    = 17200
	baseBadConfig   = 17300
	baseUpgradeFail = 17400
	baseSSHDrop     = 17500
	baseStandbyDown = 17600
	baseSwitch      = 17700
	// The rehearse tests use base+34 on 127.0.0.15 and base+80 on 127.0.0.16 as well; they run one
	// after another, each lab stopped before the next starts.
	baseRehearse = 17710
	// The JSON application variant's labs (issue 11): 20000–20180.
	baseVariantReadonly = 20000
	baseVariantReverse  = 20100
)

// testLab is a running lab and its inventory.
type testLab struct {
	Dir string
	Inv *inventory.Inventory
	// Prod and Back are the X-Upstream values of the production and backup app (their serve addresses).
	Prod, Back string
	Report     *lab.Report
}

// startLab brings a lab up in a fresh directory that user postgres can traverse and stops it when the
// test ends, even when it fails or panics. It skips the test when not root or a program is missing.
func startLab(t *testing.T, base int, ssh bool) *testLab {
	t.Helper()
	return startLabWith(t, lab.Options{PortBase: base, SSH: ssh})
}

// startLabVariant is startLab with the application's variant (app.VariantJSON or "").
func startLabVariant(t *testing.T, base int, ssh bool, variant string) *testLab {
	t.Helper()
	return startLabWith(t, lab.Options{PortBase: base, SSH: ssh, Variant: variant})
}

// startLabWith is startLab with every lab option (Dir is chosen here).
func startLabWith(t *testing.T, opt lab.Options) *testLab {
	t.Helper()
	base, ssh := opt.PortBase, opt.SSH
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the end-to-end tests run the real lab as root (PostgreSQL via runuser -u postgres); run them as root, as CI does")
	}
	if ssh {
		for _, p := range []string{"/usr/sbin/sshd", "ssh-keygen"} {
			if _, err := exec.LookPath(p); err != nil {
				testenv.Missing(t, fmt.Sprintf("%s is missing (%v): apt-get install -y openssh-server openssh-client", p, err))
			}
		}
	}
	parent, err := os.MkdirTemp("", "pitstop-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parents are 0700: the postgres user could not reach its data directories there.
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "lab")
	t.Cleanup(func() {
		if err := lab.Down(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lab.Down in cleanup: %v", err)
		}
		if t.Failed() {
			t.Logf("lab directory kept for inspection (logs in %s/logs)", dir)
			return
		}
		os.RemoveAll(parent)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	opt.Dir = dir
	rep, err := lab.Up(ctx, opt)
	if errors.Is(err, lab.ErrMissingProgram) {
		testenv.Missing(t, fmt.Sprintf("cannot run the lab: %v", err))
	}
	if err != nil {
		t.Fatalf("lab.Up: %v", err)
	}
	t.Logf("lab up in %s (port base %d, ssh %t)", time.Since(start).Round(time.Millisecond), base, ssh)
	inv, err := inventory.Load(rep.Inventory)
	if err != nil {
		t.Fatalf("the lab's inventory: %v", err)
	}
	return &testLab{Dir: dir, Inv: inv, Report: rep,
		Prod: inv.Hosts[inv.Sides.Production.Apps[0]].Serve, Back: inv.Hosts[inv.Sides.Backup.Apps[0]].Serve}
}

// startLoad puts the lab under the load the brief asks for: 200 reads/s from 8 keep-alive readers and
// a write every 50ms on a fresh connection, through nginx. The generous timeout keeps a slow answer on
// a busy CI machine from counting as a failure; a failure is an error or a non-2xx answer.
func startLoad(t *testing.T, l *testLab) *lab.Load {
	t.Helper()
	load, err := lab.StartLoad(context.Background(), lab.LoadOptions{
		ReadURL: l.Inv.Probe.URL, WriteURL: l.Inv.Probe.WriteURL, Timeout: 5 * time.Second,
		NamePrefix: "e2e-" + strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Stop() })
	return load
}

// settle lets the load run for d so that there is traffic before and after what a test does.
func settle(d time.Duration) { time.Sleep(d) }

// upstreamFile reads the balancer's upstream file.
func upstreamFile(t *testing.T, l *testLab) string {
	t.Helper()
	b, err := os.ReadFile(l.Inv.Balancer.File)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
