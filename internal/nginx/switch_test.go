package nginx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx/nginxtest"
	"github.com/pitstop-ops/pitstop/internal/probe"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var _ Verifier = (*probe.Prober)(nil)

// Port bases of this package's tests (18000–18499; the probe package uses 18500–18999).
const (
	baseSwitch        = 18000
	baseTestFails     = 18010
	baseReloadIgnored = 18020
	basePending       = 18030
	baseDeadSide      = 18040
	baseNoVerifier    = 18050
	baseCancelled     = 18060
	baseCheck         = 18070
	baseHungTest      = 18080
	baseLongRequest   = 18130
	baseWrongPid      = 18140
	baseChanged       = 18150
	baseQuit          = 18160
	baseQuitDenied    = 18170
	baseBench         = 18400
)

// lines collects a switch's progress lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// labBalancer returns the lab's balancer, verified by a running probe at 50 requests/s.
func labBalancer(t testing.TB, lab *nginxtest.Lab) *Balancer {
	t.Helper()
	pr := probe.New(lab.Inv, probe.Options{Rate: 50, HostEvery: -1})
	pr.Start(context.Background())
	t.Cleanup(pr.Stop)
	b := New(lab.Inv, lab.Runner, pr)
	b.ProofTimeout = 3 * time.Second
	b.VerifyTimeout = 3 * time.Second
	return b
}

func requireLive(t *testing.T, b *Balancer, want inventory.Side) {
	t.Helper()
	got, err := b.Live(context.Background())
	if err != nil || got != want {
		t.Fatalf("Live = %q, %v; want %q", got, err, want)
	}
}

func requireContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// requireNoTemp fails if the candidate's temp file is left beside the upstream file.
func requireNoTemp(t *testing.T, lab *nginxtest.Lab) {
	t.Helper()
	if _, err := os.Stat(lab.Inv.Balancer.File + ".pitstop-new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file %s.pitstop-new is left behind (stat: %v)", lab.Inv.Balancer.File, err)
	}
}

func TestSwitchAndBack(t *testing.T) {
	lab := nginxtest.NewLab(t, baseSwitch)
	b := labBalancer(t, lab)
	prodUp, backUp := lab.Inv.Upstream(inventory.Production), lab.Inv.Upstream(inventory.Backup)
	requireLive(t, b, inventory.Production)
	lab.RequireServedBy(t, lab.Prod.Addr, 5)
	before := lab.Nginx.Master()

	var out lines
	ch, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if err != nil {
		t.Fatalf("switch to backup: %v\n%s\n%s", err, out.String(), lab.Nginx.Logs())
	}
	want := ch
	want.File, want.From, want.To, want.Before, want.After = lab.Inv.Balancer.File, "production", "backup", prodUp, backUp
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("Change = %+v, want %+v", ch, want)
	}
	if got := lab.ReadUpstream(t); got != backUp {
		t.Errorf("upstream file holds %q, want %q", got, backUp)
	}
	if prev, _ := os.ReadFile(lab.Inv.Balancer.File + ".pitstop-prev"); string(prev) != prodUp {
		t.Errorf("previous file holds %q, want the production upstream", prev)
	}
	requireNoTemp(t, lab)
	requireContains(t, "switch output", out.String(), "sends traffic to production", "testing the configuration", "reload took effect", "sent QUIT",
		"verified: nginx's old workers exited", "5 requests through", "127.0.0.23", "backup is live")
	requireLive(t, b, inventory.Backup)
	lab.RequireServedBy(t, lab.Backup.Addr, 10)
	if r := lab.Get(t); r.Version != "2.0" {
		t.Errorf("version through nginx after the switch = %q, want the backup's 2.0", r.Version)
	}
	if lab.Nginx.Master() != before {
		t.Errorf("nginx master changed: a reload must keep it")
	}

	// The rollback path: the engine switches to the previous side the same way.
	out = lines{}
	ch, err = b.Switch(context.Background(), inventory.Production, out.add)
	if err != nil {
		t.Fatalf("switch back to production: %v\n%s", err, out.String())
	}
	if ch.From != "backup" || ch.Before != backUp || ch.After != prodUp {
		t.Errorf("Change back = %+v", ch)
	}
	requireLive(t, b, inventory.Production)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
	requireNoTemp(t, lab)
	if prev, _ := os.ReadFile(lab.Inv.Balancer.File + ".pitstop-prev"); string(prev) != backUp {
		t.Errorf("previous file holds %q, want the backup upstream", prev)
	}
}

func TestSwitchRejectedByNginxTest(t *testing.T) {
	lab := nginxtest.NewLab(t, baseTestFails)
	b := labBalancer(t, lab)
	lab.Inv.Hosts["app-backup"].Serve = "127.0.0.23:99999" // renders a server line nginx -t rejects
	var out lines
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if !errors.Is(err, ErrTestFailed) {
		t.Fatalf("switch with a bad candidate: %v, want ErrTestFailed\n%s", err, out.String())
	}
	var se *SwitchError
	if !errors.As(err, &se) || !se.Restored {
		t.Fatalf("error %v is not a restored *SwitchError", err)
	}
	// nginx's own words reach the operator, in the error and in the output.
	requireContains(t, "error", err.Error(), `invalid port in upstream "127.0.0.23:99999"`, lab.Inv.Balancer.File,
		"nginx was not reloaded, so it still runs the production upstream")
	requireContains(t, "output", out.String(), `invalid port in upstream "127.0.0.23:99999"`, "FAILED while testing the configuration")
	if got := lab.ReadUpstream(t); got != lab.Inv.Upstream(inventory.Production) {
		t.Errorf("upstream file holds %q after the failed switch, want production's", got)
	}
	requireNoTemp(t, lab)
	requireLive(t, b, inventory.Production)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

// occupy listens on addr for the rest of the test, so nginx cannot bind it.
func occupy(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// The candidate passes nginx -t but asks nginx to listen on a port in use: nginx -s reload exits 0
// and nginx keeps its old workers and configuration. The switch must see it, restore and reload.
func TestSwitchReloadIgnoredIsUndone(t *testing.T) {
	lab := nginxtest.NewLab(t, baseReloadIgnored)
	b := labBalancer(t, lab)
	busy := lab.Addr(nginxtest.NginxIP, 5)
	occupy(t, busy)
	b.render = func(live string, side inventory.Side) (string, error) {
		s, err := lab.Inv.RewriteUpstream(live, side)
		return s + "server { listen " + busy + "; }\n", err
	}
	var out lines
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if !errors.Is(err, ErrReloadIgnored) {
		t.Fatalf("switch whose reload cannot bind: %v, want ErrReloadIgnored\n%s\n%s", err, out.String(), lab.Nginx.Logs())
	}
	requireContains(t, "error", err.Error(), "still has the same processes", "still could not bind()",
		"holds the production upstream again", "nginx reloaded it (new workers), so it runs the production upstream",
		"verified: the last ", "all served by production")
	requireContains(t, "nginx's error log", lab.Nginx.Logs(), "still could not bind()")
	if got := lab.ReadUpstream(t); got != lab.Inv.Upstream(inventory.Production) {
		t.Errorf("upstream file holds %q, want production's", got)
	}
	requireNoTemp(t, lab)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

// Someone left an edit in nginx's configuration that cannot bind: every reload is ignored, also the
// one that undoes the switch. nginx then still runs its configuration from before the switch.
func TestSwitchWhileReloadsAreBroken(t *testing.T) {
	lab := nginxtest.NewLab(t, basePending)
	b := labBalancer(t, lab)
	busy := lab.Addr(nginxtest.NginxIP, 5)
	occupy(t, busy)
	lab.Nginx.AddConf(t, "pending.conf", "server { listen "+busy+"; }\n")
	var out lines
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if !errors.Is(err, ErrReloadIgnored) {
		t.Fatalf("switch: %v, want ErrReloadIgnored\n%s", err, out.String())
	}
	requireContains(t, "error", err.Error(), "nginx did not take this reload either",
		"it still runs the configuration it ran before the switch: the production upstream", "all served by production")
	requireLive(t, b, inventory.Production)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

// nginx takes the switch, but the backup app is down: probes fail, so the switch is undone.
func TestSwitchToDeadSideIsUndone(t *testing.T) {
	lab := nginxtest.NewLab(t, baseDeadSide)
	b := labBalancer(t, lab)
	lab.Backup.Stop()
	var out lines
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if !errors.Is(err, ErrNotServed) {
		t.Fatalf("switch to a dead side: %v, want ErrNotServed\n%s", err, out.String())
	}
	requireContains(t, "error", err.Error(), "HTTP 502 via "+lab.Backup.Addr+" (backup)",
		"nginx reloaded it (new workers), so it runs the production upstream", "all served by production")
	requireContains(t, "output", out.String(), "reload took effect", "FAILED while verifying traffic", "undoing")
	requireLive(t, b, inventory.Production)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

func TestSwitchWithoutVerifier(t *testing.T) {
	lab := nginxtest.NewLab(t, baseNoVerifier)
	b := New(lab.Inv, lab.Runner, nil)
	var out lines
	if _, err := b.Switch(context.Background(), inventory.Backup, out.add); err != nil {
		t.Fatalf("switch: %v\n%s", err, out.String())
	}
	requireContains(t, "output", out.String(), "reload took effect", "traffic NOT verified", "backup is live (unverified)")
	lab.AwaitServedBy(t, lab.Backup.Addr, 3*time.Second)
	lab.RequireServedBy(t, lab.Backup.Addr, 5)
}

// stallVerifier never sees the new side; it cancels the switch's context while waiting, as an
// operator aborting would. The previous side verifies at once.
type stallVerifier struct{ cancel context.CancelFunc }

func (v stallVerifier) ServedBy(ctx context.Context, side inventory.Side, _ time.Duration) (string, error) {
	if side == inventory.Production {
		return "production checked", nil
	}
	v.cancel()
	<-ctx.Done()
	return "", ctx.Err()
}

func (v stallVerifier) ServedNow(ctx context.Context, side inventory.Side, _ int, timeout time.Duration) (string, error) {
	return v.ServedBy(ctx, side, timeout)
}

// A switch cancelled half way still undoes itself completely.
func TestSwitchCancelledIsUndone(t *testing.T) {
	lab := nginxtest.NewLab(t, baseCancelled)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := New(lab.Inv, lab.Runner, stallVerifier{cancel})
	b.ProofTimeout = 3 * time.Second
	var out lines
	_, err := b.Switch(ctx, inventory.Backup, out.add)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled switch: %v, want context.Canceled\n%s", err, out.String())
	}
	requireContains(t, "error", err.Error(), "nginx reloaded it (new workers)", "verified: production checked")
	requireLive(t, b, inventory.Production)
	lab.AwaitServedBy(t, lab.Prod.Addr, 3*time.Second)
	lab.RequireServedBy(t, lab.Prod.Addr, 5)
	requireNoTemp(t, lab)
	if _, err := os.Stat(filepath.Join(lab.Nginx.Dir, "nginx.pid")); err != nil {
		t.Errorf("nginx is gone: %v", err)
	}
}

// TestCheck: the balancer check reads nginx's master and workers from the pid file and finds the
// upstream file's directory writable; a wrong pid file or a missing directory fails naming it.
func TestCheck(t *testing.T) {
	lab := nginxtest.NewLab(t, baseCheck)
	b := labBalancer(t, lab)
	ctx := context.Background()
	got, err := b.Check(ctx)
	if err != nil || !strings.Contains(got, "master ") || !strings.Contains(got, "its workers can be signalled") {
		t.Fatalf("Check on a healthy balancer: %q, %v", got, err)
	}
	inv := *lab.Inv
	inv.Balancer.PidFile = filepath.Join(t.TempDir(), "missing.pid")
	if _, err := New(&inv, lab.Runner, nil).Check(ctx); err == nil || !strings.Contains(err.Error(), "missing.pid") {
		t.Errorf("Check with a missing pid file: %v; want an error naming it", err)
	}
	inv = *lab.Inv
	inv.Balancer.File = filepath.Join(t.TempDir(), "gone", "upstream.conf")
	if _, err := New(&inv, lab.Runner, nil).Check(ctx); err == nil || !strings.Contains(err.Error(), "does not load") || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Check with the upstream file elsewhere: %v; want 'does not load' naming it", err)
	}
}

// TestSwitchWithHungTestIsUndone: a config test that hangs (nginx -t resolving a name that never
// answers) is cut off by the balancer's command timeout; the switch fails naming the command, and the
// previous file is back.
func TestSwitchWithHungTestIsUndone(t *testing.T) {
	lab := nginxtest.NewLab(t, baseHungTest)
	b := labBalancer(t, lab)
	b.CommandTimeout = 300 * time.Millisecond
	lab.Inv.Balancer.Test = "sleep 30"
	var out lines
	start := time.Now()
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if err == nil {
		t.Fatalf("switch with a hung config test succeeded\n%s", out.String())
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("the hung test was not cut off: the switch took %s", time.Since(start))
	}
	requireContains(t, "error", err.Error(), "sleep 30", "did not finish within 300ms")
	if got := lab.ReadUpstream(t); got != lab.Inv.Upstream(inventory.Production) {
		t.Errorf("upstream file holds %q after the failed switch, want production's", got)
	}
	requireNoTemp(t, lab)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

// TestSwitchWithALongRequestInFlight: an old worker still serving a long request (a download) to
// production after the reload does not hold the switch: after DrainTimeout the proof falls back to the
// probes' own requests, says so, and the long request itself completes on production.
func TestSwitchWithALongRequestInFlight(t *testing.T) {
	lab := nginxtest.NewLab(t, baseLongRequest)
	b := labBalancer(t, lab)
	b.DrainTimeout = 300 * time.Millisecond
	slow := make(chan string, 1)
	go func() {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Get(strings.TrimSuffix(lab.Inv.Probe.URL, "/") + "/slow?for=2s")
		if err != nil {
			slow <- err.Error()
			return
		}
		resp.Body.Close()
		slow <- resp.Header.Get("X-Upstream")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for lab.Prod.Hits() == 0 && time.Now().Before(deadline) { // the long request reached production
		time.Sleep(5 * time.Millisecond)
	}
	var out lines
	if _, err := b.Switch(context.Background(), inventory.Backup, out.add); err != nil {
		t.Fatalf("switch with a long request in flight: %v\n%s", err, out.String())
	}
	requireContains(t, "output", out.String(), "still run after 300ms", "Proving by the probes' own requests", "verified: the last ", "backup is live")
	if got := <-slow; got != lab.Prod.Addr {
		t.Errorf("the long request begun before the switch ended with %q, want served by production (%s)", got, lab.Prod.Addr)
	}
	lab.RequireServedBy(t, lab.Backup.Addr, 5)
}

// TestSequence: commands run one after another in one shell, each one's output kept apart (stdout
// and stderr alike), and the first that fails stops the rest and is named with its own status.
func TestSequence(t *testing.T) {
	inv := &inventory.Inventory{Balancer: inventory.Balancer{Host: "lb"}}
	b := New(inv, nginxtest.LocalRunner{}, nil)
	ctx := context.Background()
	res, failed, err := b.sequence(ctx, "echo a; echo a2 >&2", "exit 0; echo unreached", "echo b; echo b2 >&2; exit 7", "echo c > /dev/stderr")
	var ee *steps.ExitError
	if failed != 2 || !errors.As(err, &ee) || ee.Status != 7 || ee.Command != "echo b; echo b2 >&2; exit 7" {
		t.Fatalf("sequence: failed %d, err %v; want the third command, exit 7, named", failed, err)
	}
	if !reflect.DeepEqual(res[0].stdout(), []string{"a"}) || !slices.Contains(res[0].all(), "a2") || len(res[0].all()) != 2 {
		t.Errorf("first command's output: %+v", res[0])
	}
	if len(res[1].all()) != 0 {
		t.Errorf("an exit in the second command ended more than it: %+v", res[1])
	}
	if !reflect.DeepEqual(res[2].stdout(), []string{"b"}) || !slices.Contains(res[2].all(), "b2") || len(res[3].all()) != 0 {
		t.Errorf("third and fourth commands' output: %+v, %+v", res[2], res[3])
	}
	res, failed, err = b.sequence(ctx, "echo x", "echo y")
	if err != nil || failed != 2 || res[1].stdout()[0] != "y" {
		t.Errorf("a sequence that succeeds: failed %d, %v, %+v", failed, err, res)
	}
}

// TestSwitchWithAWrongPidFileIsUndone: when nginx's processes cannot be read before the reload (a
// wrong balancer.pid_file), the switch stops there: the file is restored and nginx was not reloaded.
func TestSwitchWithAWrongPidFileIsUndone(t *testing.T) {
	lab := nginxtest.NewLab(t, baseWrongPid)
	b := labBalancer(t, lab)
	lab.Inv.Balancer.PidFile = filepath.Join(t.TempDir(), "nginx.pid")
	var out lines
	_, err := b.Switch(context.Background(), inventory.Backup, out.add)
	if err == nil {
		t.Fatalf("switch with a wrong pid file succeeded\n%s", out.String())
	}
	requireContains(t, "error", err.Error(), "reading nginx's worker pids before the reload", "nginx.pid", "nginx was not reloaded")
	if got := lab.ReadUpstream(t); got != lab.Inv.Upstream(inventory.Production) {
		t.Errorf("upstream file holds %q after the failed switch, want production's", got)
	}
	requireNoTemp(t, lab)
	lab.RequireServedBy(t, lab.Prod.Addr, 10)
}

// TestSwitchAfterTheFileChanged: a switch writes without reading the file again when it knows what
// the file holds (it wrote it last), but checks that first; here an operator edits the file between
// two switches (a directive of their own), so the second switch sees the change, reads the file again
// and keeps the operator's directive.
func TestSwitchAfterTheFileChanged(t *testing.T) {
	lab := nginxtest.NewLab(t, baseChanged)
	b := labBalancer(t, lab)
	ctx := context.Background()
	if _, err := b.Switch(ctx, inventory.Backup, nil); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(lab.ReadUpstream(t), "{", "{\n    keepalive 8; # the operator's own", 1)
	if err := os.WriteFile(lab.Inv.Balancer.File, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	var out lines
	if _, err := b.Switch(ctx, inventory.Production, out.add); err != nil {
		t.Fatalf("switch after the file changed: %v\n%s", err, out.String())
	}
	requireContains(t, "output", out.String(), "not as Pitstop last saw it", "production is live")
	if got := lab.ReadUpstream(t); !strings.Contains(got, "keepalive 8; # the operator's own") || !strings.Contains(got, lab.Prod.Addr) || strings.Contains(got, lab.Backup.Addr) {
		t.Errorf("upstream file after the switch:\n%s\nwant production's server and the operator's directive", got)
	}
	// Unchanged since: the next switch does not read it again.
	out = lines{}
	if _, err := b.Switch(ctx, inventory.Backup, out.add); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "not as Pitstop last saw it") {
		t.Errorf("a switch after Pitstop's own write read the file again:\n%s", out.String())
	}
	lab.RequireServedBy(t, lab.Backup.Addr, 5)
}

// workerCount counts the nginx master's children titled "worker process" (not those shutting down).
func workerCount(t *testing.T, master int) int {
	t.Helper()
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(master)).Output()
	n := 0
	for _, f := range strings.Fields(string(out)) {
		cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
		if strings.Contains(string(cmd), "worker process") && !strings.Contains(string(cmd), "shutting down") {
			n++
		}
	}
	return n
}

// TestSwitchEndsOldWorkers: by default a switch sends nginx's old workers QUIT itself once the new
// worker runs, instead of waiting 100 ms for the master to; the master never respawns one it did not
// end itself (after twenty switches nginx runs its one worker, and its log shows no respawn), and
// with balancer.old_workers: wait nothing but the master signals them.
func TestSwitchEndsOldWorkers(t *testing.T) {
	lab := nginxtest.NewLab(t, baseQuit)
	b := labBalancer(t, lab)
	ctx := context.Background()
	for i := range 20 {
		to := []inventory.Side{inventory.Backup, inventory.Production}[i%2]
		var out lines
		if _, err := b.Switch(ctx, to, out.add); err != nil {
			t.Fatalf("switch %d: %v\n%s", i, err, out.String())
		}
		requireContains(t, "output", out.String(), "sent QUIT (graceful shutdown) to nginx's old worker(s)")
	}
	time.Sleep(300 * time.Millisecond)
	if n := workerCount(t, lab.Nginx.Master()); n != 1 {
		t.Errorf("nginx runs %d workers after 20 switches, want its 1 (worker_processes 1): an old one was respawned\n%s", n, lab.Nginx.Logs())
	}
	logs := lab.Nginx.Logs()
	if got := strings.Count(logs, "start worker process "); got != 21 { // the first start and one per reload
		t.Errorf("nginx started %d workers over 20 reloads, want 21\n%s", got, logs)
	}
	quits := strings.Count(logs, "signal 3 (SIGQUIT) received from")
	if quits < 20 {
		t.Errorf("the old workers got QUIT from Pitstop %d times in 20 switches, want 20\n%s", quits, logs)
	}

	lab.Inv.Balancer.OldWorkers = inventory.OldWorkersWait
	var out lines
	if _, err := b.Switch(ctx, inventory.Backup, out.add); err != nil {
		t.Fatalf("switch with old_workers: wait: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "sent QUIT") || strings.Count(lab.Nginx.Logs(), "signal 3 (SIGQUIT) received from") != quits {
		t.Errorf("with old_workers: wait Pitstop signalled the old workers:\n%s", out.String())
	}
	requireContains(t, "output", out.String(), "old workers exited", "backup is live")
}

// TestSwitchWhenQuitIsDenied: where the old workers cannot be signalled (here a sudo that refuses
// kill), the switch says so and goes on: nginx's master ends them, 100 ms after the reload.
func TestSwitchWhenQuitIsDenied(t *testing.T) {
	lab := nginxtest.NewLab(t, baseQuitDenied)
	bin := t.TempDir()
	sudo := "#!/bin/sh\n[ \"$1\" = -n ] && shift\nif [ \"$1\" = kill ]; then echo 'sudo: a password is required' >&2; exit 1; fi\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(sudo), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	lab.Inv.Balancer.Reload = "sudo " + lab.Inv.Balancer.Reload
	b := labBalancer(t, lab)
	var out lines
	if _, err := b.Switch(context.Background(), inventory.Backup, out.add); err != nil {
		t.Fatalf("switch: %v\n%s", err, out.String())
	}
	requireContains(t, "output", out.String(), "could not send QUIT to nginx's old worker(s)", "balancer.old_workers: wait", "old workers exited", "backup is live")
	lab.RequireServedBy(t, lab.Backup.Addr, 5)
}
