package nginx

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
)

// ErrNotServing is wrapped by Check when the nginx that balancer.test tests is not provably the
// nginx that serves: the pid file names no running master, the two use different configurations, or
// the tested configuration does not load the upstream file.
var ErrNotServing = errors.New("the tested nginx is not the serving nginx")

// Check verifies, writing nothing on the balancer, that a switch will work there and act on the
// nginx that serves: balancer.pid_file names a running nginx master; balancer.test, turned into
// `nginx -T`, tests the configuration that master runs and that configuration loads balancer.file;
// nginx's workers can be read (the proof that a reload took effect depends on it); and the upstream
// file's directory is writable by the SSH user (the candidate is written there and renamed over the
// file). The test runs only once the master is found: `nginx -t` creates the pid file its
// configuration names when it is missing, which is how a check of the wrong nginx used to leave an
// empty /run/nginx.pid behind. It returns a line saying what it proved.
func (b *Balancer) Check(ctx context.Context) (string, error) {
	m, err := b.master(ctx)
	if err != nil {
		return "", err
	}
	files, err := b.dump(ctx, m)
	if err != nil {
		return "", err
	}
	w, err := b.readWorkers(ctx)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(b.file())
	if res, err := b.sh(ctx, "test -w "+shell.Quote(dir)); err != nil {
		return "", fmt.Errorf("the directory %s on %s is not writable for the SSH user (%w%s): a switch writes %s there and renames it over %s; give that user write access to it, or connect as a user who has it",
			dir, b.host(), err, res.tail(), filepath.Base(b.tmpFile()), filepath.Base(b.file()))
	}
	conf := m.conf
	if conf == "" {
		conf = "its built-in configuration path"
	}
	return fmt.Sprintf("nginx %s from %s serves %s; `%s` lists %s among its %d files; %s writable%s",
		w, b.inv.Balancer.PidFile, conf, b.dumpCommand(), b.file(), files, dir, b.checkSignal(ctx, w)), nil
}

// checkSignal tells, with balancer.old_workers: quit, whether a switch will be able to end nginx's old
// workers itself (kill -0 on a worker, with sudo -n where the reload uses sudo). Either way it is no
// error: without it a switch waits for nginx's master, as with old_workers: wait.
func (b *Balancer) checkSignal(ctx context.Context, w workers) string {
	if b.inv.Balancer.OldWorkers == inventory.OldWorkersWait || len(w.pids) == 0 {
		return ""
	}
	kill := killCommand(b.inv.Balancer.Reload)
	if res, err := b.sh(ctx, fmt.Sprintf("%s -0 %d", kill, w.pids[0])); err != nil {
		return fmt.Sprintf("; NOTE: `%s -0 %d` failed (%v%s), so a switch cannot end nginx's old workers itself and waits about 100 ms for nginx's master to: run Pitstop's commands there as root or nginx's user, or set balancer.old_workers: wait",
			kill, w.pids[0], err, res.tail())
	}
	return "; its workers can be signalled (balancer.old_workers: quit)"
}

// master is the running nginx master named by the pid file, and the -c and -p it was started with.
type master struct {
	pid          int
	conf, prefix string
}

// master reads the pid file and the command line of the process it names, creating nothing.
func (b *Balancer) master(ctx context.Context) (master, error) {
	f := b.inv.Balancer.PidFile
	cmd := fmt.Sprintf(`f=%s; if [ ! -e "$f" ]; then echo NOFILE; exit 0; fi; p=$(cat "$f"); if [ -z "$p" ]; then echo EMPTY; exit 0; fi; `+
		`if [ ! -r /proc/"$p"/cmdline ]; then echo "DEAD $p"; exit 0; fi; printf 'PID %%s ' "$p"; tr '\0' ' ' < /proc/"$p"/cmdline; echo`, shell.Quote(f))
	res, err := b.sh(ctx, cmd)
	if err != nil {
		return master{}, fmt.Errorf("read nginx's pid file %s on %s: %w%s", f, b.host(), err, res.tail())
	}
	out := strings.TrimSpace(strings.Join(res.stdout(), " "))
	fix := "set balancer.pid_file to the pid file of the nginx that serves this application (its `pid` directive), and balancer.test to an nginx -t with that nginx's -c"
	switch {
	case out == "NOFILE":
		return master{}, fmt.Errorf("%w: the pid file %s does not exist on %s, so no nginx master runs from it; %s", ErrNotServing, f, b.host(), fix)
	case out == "EMPTY":
		return master{}, fmt.Errorf("%w: the pid file %s on %s is empty (nginx -t leaves one so when its configuration names a pid file that did not exist: the nginx tested is not the one running); %s", ErrNotServing, f, b.host(), fix)
	case strings.HasPrefix(out, "DEAD "):
		return master{}, fmt.Errorf("%w: the pid file %s on %s names process %s, which is not running; start nginx or %s", ErrNotServing, f, b.host(), strings.TrimPrefix(out, "DEAD "), fix)
	}
	rest, ok := strings.CutPrefix(out, "PID ")
	pidText, args, _ := strings.Cut(rest, " ")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil {
		return master{}, fmt.Errorf("reading the pid file %s on %s gave %q, not a process id", f, b.host(), out)
	}
	if !strings.Contains(args, "nginx: master process") {
		return master{}, fmt.Errorf("%w: the pid file %s on %s names process %d, which is not an nginx master (%q); %s", ErrNotServing, f, b.host(), pid, strings.TrimSpace(args), fix)
	}
	m := master{pid: pid}
	m.conf, m.prefix = flagValue(strings.Fields(args), "-c"), flagValue(strings.Fields(args), "-p")
	return m, nil
}

// flagValue is the value of nginx's option flag (-c FILE or -cFILE) in args, or "".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		switch {
		case a == flag && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, flag) && len(a) > len(flag) && !strings.HasPrefix(a, "--"):
			return a[len(flag):]
		}
	}
	return ""
}

// dumpCommand turns balancer.test into the same command with -T: test the configuration and print
// every file it loads. It returns "" when the test has no -t to turn.
func (b *Balancer) dumpCommand() string {
	args := strings.Fields(b.inv.Balancer.Test)
	out := make([]string, 0, len(args))
	found := false
	for _, a := range args {
		switch a {
		case "-t", "-tq", "-qt":
			out = append(out, "-T")
			found = true
		case "-q":
		default:
			out = append(out, a)
		}
	}
	if !found {
		return ""
	}
	return strings.Join(out, " ")
}

// dump runs the -T form of balancer.test, once it is sure the test names the running master's
// configuration, and checks that the upstream file is among the files it loads. It returns how many
// files that is.
func (b *Balancer) dump(ctx context.Context, m master) (int, error) {
	test := b.inv.Balancer.Test
	dump := b.dumpCommand()
	if dump == "" {
		return 0, fmt.Errorf("%w: balancer.test %q has no -t, so Pitstop cannot make it list the files it loads (nginx -T); write it as an nginx -t command line with the -c (and -p) of the nginx that serves", ErrNotServing, test)
	}
	args := unquoted(strings.Fields(test))
	if c := flagValue(args, "-c"); c != m.conf || flagValue(args, "-p") != m.prefix {
		want := "nginx"
		if m.conf != "" {
			want += " -c " + m.conf
		}
		if m.prefix != "" {
			want += " -p " + m.prefix
		}
		return 0, fmt.Errorf("%w: balancer.test %q tests %s, but the nginx serving from %s (pid %d) runs %s; the test would check the wrong configuration (and create that one's pid file): set balancer.test to `%s -t` (with sudo if needed)",
			ErrNotServing, test, orDefault(c), b.inv.Balancer.PidFile, m.pid, orDefault(m.conf), want)
	}
	res, err := b.sh(ctx, dump)
	if err != nil {
		return 0, fmt.Errorf("%w: %w%s", ErrTestFailed, b.cmdErr(dump, err), res.tail())
	}
	var files []string
	for _, line := range res.stdout() {
		if f, ok := strings.CutPrefix(line, "# configuration file "); ok {
			files = append(files, strings.TrimSuffix(strings.TrimSpace(f), ":"))
		}
	}
	if !slices.ContainsFunc(files, func(f string) bool { return filepath.Clean(f) == filepath.Clean(b.file()) }) {
		shown := files
		if len(shown) > 6 {
			shown = append(shown[:6:6], "…")
		}
		return 0, fmt.Errorf("%w: the configuration `%s` tests does not load the upstream file %s (it loads %s); include it in the http block of the nginx that serves (include %s;), or correct balancer.file",
			ErrNotServing, dump, b.file(), strings.Join(shown, ", "), b.file())
	}
	return len(files), nil
}

// unquoted strips the shell quotes around each of args (shell.Join quotes paths with odd characters).
func unquoted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) >= 2 && (a[0] == '\'' || a[0] == '"') && a[len(a)-1] == a[0] {
			a = a[1 : len(a)-1]
		}
		out[i] = a
	}
	return out
}

func orDefault(conf string) string {
	if conf == "" {
		return "the built-in configuration path"
	}
	return conf
}

// UpstreamHeaderHint is the line to add to the nginx location that proxies to the upstream, so that
// every answer names the upstream that gave it.
func UpstreamHeaderHint(header string) string {
	return "add_header " + header + " $upstream_addr always;"
}
