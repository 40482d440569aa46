package nginx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/nginx/nginxtest"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Port bases of this file's tests.
const (
	baseProve = 18090
	baseKeep  = 18100
	baseGroup = 18110 // and 18120 for the second balancer's nginx
)

// TestCheckProvesServingNginx: check proves the nginx it tests is the one that serves — the pid file
// names a running master, balancer.test (turned into -T) tests that master's configuration, which
// loads the upstream file — and writes nothing on the way: the default `nginx -t` against a lab nginx
// started with -c is refused before it runs (it would leave an empty pid file behind).
func TestCheckProvesServingNginx(t *testing.T) {
	lab := nginxtest.NewLab(t, baseProve)
	ctx := context.Background()
	got, err := New(lab.Inv, lab.Runner, nil).Check(ctx)
	if err != nil {
		t.Fatalf("Check on the lab: %v", err)
	}
	requireContains(t, "check line", got, "master ", lab.Inv.Balancer.File, "-T", filepath.Join(lab.Nginx.Dir, "nginx.conf"))

	_, runPidErr := os.Stat("/run/nginx.pid")
	inv := *lab.Inv
	inv.Balancer.Test = "nginx -t" // the default: the system's configuration, not the lab's
	_, err = New(&inv, lab.Runner, nil).Check(ctx)
	if !errors.Is(err, ErrNotServing) {
		t.Fatalf("Check with the default test: %v; want ErrNotServing", err)
	}
	requireContains(t, "error", err.Error(), "tests the built-in configuration path", "-c "+filepath.Join(lab.Nginx.Dir, "nginx.conf"))
	if _, err := os.Stat("/run/nginx.pid"); (err == nil) != (runPidErr == nil) {
		t.Errorf("check changed /run/nginx.pid (before: %v, after: %v): it must write nothing", runPidErr, err)
	}

	empty := filepath.Join(t.TempDir(), "nginx.pid")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inv = *lab.Inv
	inv.Balancer.PidFile = empty
	_, err = New(&inv, lab.Runner, nil).Check(ctx)
	if !errors.Is(err, ErrNotServing) || !strings.Contains(err.Error(), "is empty") || strings.Contains(err.Error(), "usage") {
		t.Errorf("Check with an empty pid file: %v; want it said plainly", err)
	}
	_, err = New(&inv, lab.Runner, nil).readWorkers(ctx)
	if err == nil || !strings.Contains(err.Error(), "is empty") || strings.Contains(strings.ToLower(err.Error()), "usage") {
		t.Errorf("reading the workers from an empty pid file: %v; want it said plainly, not ps's usage", err)
	}

	inv = *lab.Inv
	inv.Balancer.File = filepath.Join(t.TempDir(), "upstream.conf") // a file nginx does not include
	if err := os.WriteFile(inv.Balancer.File, []byte(lab.Inv.Upstream(inventory.Production)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(&inv, lab.Runner, nil).Check(ctx)
	if !errors.Is(err, ErrNotServing) || !strings.Contains(err.Error(), "does not load the upstream file "+inv.Balancer.File) {
		t.Errorf("Check with an upstream file nginx does not load: %v", err)
	}
}

// operatorFile is the lab's upstream as an operator writes it: zone, least_conn, weights, a backup
// server of the operator's own, keepalive, comments, tabs and no final newline.
const operatorFile = "# shop upstream, owned by ops\nupstream app {\n\tzone app 64k;\n\tleast_conn;\n" +
	"\tserver {{prod}} weight=5 max_fails=3 fail_timeout=15s; # the production app\n" +
	"\tserver 127.0.0.1:9 backup; # sorry page, never used here\n" +
	"\tkeepalive 16;\n\tkeepalive_timeout 30s;\n}\n\n# end of file, no newline after this comment"

// TestSwitchKeepsOperatorsUpstream: through a real nginx, a switch to the backup and back (the
// plan's two switches) and a switch undone by a rollback change only the server lines: every other
// byte of the file is as the operator wrote it, and nginx accepts each version.
func TestSwitchKeepsOperatorsUpstream(t *testing.T) {
	lab := nginxtest.NewLab(t, baseKeep)
	lab.Inv.Hosts["app-backup"].ServerParams = "weight=2 max_fails=1"
	lab.Inv.Hosts["app-prod"].ServerParams = "weight=5 max_fails=3 fail_timeout=15s"
	orig := strings.ReplaceAll(operatorFile, "{{prod}}", lab.Prod.Addr)
	if err := os.WriteFile(lab.Inv.Balancer.File, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	b := labBalancer(t, lab)
	ctx := context.Background()
	requireLive(t, b, inventory.Production)
	prodLine := "\tserver " + lab.Prod.Addr + " weight=5 max_fails=3 fail_timeout=15s; # the production app\n"
	onBackup := strings.Replace(orig, prodLine, "\tserver "+lab.Backup.Addr+" weight=2 max_fails=1; # app-backup\n", 1)
	backAgain := strings.Replace(orig, prodLine, "\tserver "+lab.Prod.Addr+" weight=5 max_fails=3 fail_timeout=15s; # app-prod\n", 1)

	for i, step := range []struct {
		to   inventory.Side
		want string
	}{{inventory.Backup, onBackup}, {inventory.Production, backAgain}, {inventory.Backup, onBackup}, {inventory.Production, backAgain}} {
		var out lines
		ch, err := b.Switch(ctx, step.to, out.add)
		if err != nil {
			t.Fatalf("switch %d to %s: %v\n%s", i+1, step.to, err, out.String())
		}
		if got := lab.ReadUpstream(t); got != step.want {
			t.Fatalf("after switch %d to %s the file is\n%q\nwant\n%q", i+1, step.to, got, step.want)
		}
		if ch.After != step.want {
			t.Errorf("switch %d: Change.After differs from the file", i+1)
		}
		addr := lab.Prod.Addr
		if step.to == inventory.Backup {
			addr = lab.Backup.Addr
		}
		lab.RequireServedBy(t, addr, 5)
	}

	// A switch whose new side does not serve is undone: the file is byte for byte the one before.
	lab.Backup.Stop()
	var out lines
	if _, err := b.Switch(ctx, inventory.Backup, out.add); !errors.Is(err, ErrNotServed) {
		t.Fatalf("switch to a stopped backup: %v, want ErrNotServed\n%s", err, out.String())
	}
	if got := lab.ReadUpstream(t); got != backAgain {
		t.Errorf("after the rollback the file is\n%q\nwant\n%q", got, backAgain)
	}
	before, after, err := b.Preview(ctx, inventory.Backup)
	if err != nil || before != backAgain || after != onBackup {
		t.Errorf("Preview = %q, %q, %v", before, after, err)
	}
}

// dirRunner runs the commands of one balancer host in another nginx prefix, and says the paths of
// its answers back in the first: two nginx instances on one machine stand for two balancer hosts
// with the same paths.
type dirRunner struct {
	nginxtest.LocalRunner
	host, from, to string
}

func (r dirRunner) Run(ctx context.Context, host, command string, out steps.OutputFunc) error {
	if host == r.host {
		command = strings.ReplaceAll(command, r.from, r.to)
		inner := out
		out = func(s steps.Stream, line string) { inner(s, strings.ReplaceAll(line, r.to, r.from)) }
	}
	return r.LocalRunner.Run(ctx, host, command, out)
}

// TestGroupAllOrNothing: two nginx instances as two balancers switch together; when the second one's
// nginx -t fails, the first, already switched and reloaded, is restored too, and users stay on
// production.
func TestGroupAllOrNothing(t *testing.T) {
	lab := nginxtest.NewLab(t, baseGroup)
	dir2 := t.TempDir()
	up2 := filepath.Join(dir2, filepath.Base(lab.Inv.Balancer.File))
	prodUp := lab.Inv.Upstream(inventory.Production)
	if err := os.WriteFile(up2, []byte(prodUp), 0o644); err != nil {
		t.Fatal(err)
	}
	ng2 := nginxtest.StartNginx(t, dir2, lab.Addr(nginxtest.NginxIP, 10), up2)
	lab.Inv.Hosts["lb2"] = &inventory.Host{SSH: "local"}
	lab.Inv.Balancer.Hosts = []string{"lb", "lb2"}
	run := dirRunner{host: "lb2", from: lab.Nginx.Dir, to: dir2}
	pr := labBalancer(t, lab).verify
	g := NewGroup(lab.Inv, run, pr)
	for _, m := range g.Members() {
		m.ProofTimeout, m.VerifyTimeout = 3e9, 3e9
	}
	ctx := context.Background()
	if side, err := g.Live(ctx); err != nil || side != inventory.Production {
		t.Fatalf("Live = %q, %v", side, err)
	}
	if lines, err := g.Check(ctx); err != nil || len(lines) != 2 || !strings.Contains(lines[1], "lb2: ") || !strings.Contains(lines[1], lab.Inv.Balancer.File) {
		t.Fatalf("Check = %q, %v", lines, err)
	}

	// Both switch, and back.
	var out lines
	ch, err := g.Switch(ctx, inventory.Backup, out.add)
	if err != nil {
		t.Fatalf("group switch to backup: %v\n%s", err, out.String())
	}
	backUp := lab.Inv.Upstream(inventory.Backup)
	if got, _ := os.ReadFile(up2); string(got) != backUp || lab.ReadUpstream(t) != backUp || len(ch.Others) != 1 || ch.Others[0].Host != "lb2" {
		t.Fatalf("after the group switch: lb2 holds %q, lb %q, change %+v", got, lab.ReadUpstream(t), ch)
	}
	requireContains(t, "output", out.String(), "lb: ", "lb2: ", "every balancer is switched")
	for _, f := range []string{lab.Inv.Balancer.File, up2} {
		if prev, err := os.ReadFile(f + ".pitstop-prev"); err != nil || string(prev) != prodUp {
			t.Errorf("%s.pitstop-prev holds %q (%v) after the group switch, want the production upstream", f, prev, err)
		}
		if _, err := os.Stat(f + ".pitstop-undo"); err == nil {
			t.Errorf("%s.pitstop-undo is left after the group switch took effect", f)
		}
	}
	if _, err := g.Switch(ctx, inventory.Production, out.add); err != nil {
		t.Fatalf("group switch back: %v\n%s", err, out.String())
	}

	// lb2's configuration test fails: lb, switched first, is restored as well.
	master1 := lab.Nginx.Master()
	ng2.AddConf(t, "broken.conf", "this is not nginx;\n")
	out = lines{}
	_, err = g.Switch(ctx, inventory.Backup, out.add)
	if !errors.Is(err, ErrTestFailed) {
		t.Fatalf("group switch with lb2 failing nginx -t: %v, want ErrTestFailed\n%s", err, out.String())
	}
	requireContains(t, "error", err.Error(), "switching lb2", "lb: ", "holds the production upstream again", "nginx reloaded it")
	if got, _ := os.ReadFile(up2); string(got) != prodUp {
		t.Errorf("lb2's upstream holds %q, want production's", got)
	}
	for _, f := range []string{lab.Inv.Balancer.File, up2} {
		if _, err := os.Stat(f + ".pitstop-undo"); err == nil {
			t.Errorf("%s.pitstop-undo is left after the group was restored", f)
		}
	}
	if got := lab.ReadUpstream(t); got != prodUp {
		t.Errorf("lb's upstream holds %q after lb2 failed, want production's", got)
	}
	if lab.Nginx.Master() != master1 {
		t.Errorf("lb's nginx master changed")
	}
	lab.AwaitServedBy(t, lab.Prod.Addr, 5e9)
}
