package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/discover"
)

// cmdDiscover is `pitstop discover`: it drafts an inventory from the balancer's nginx and production's
// PostgreSQL, reading only.
func cmdDiscover(args []string, stdout, stderr io.Writer) int {
	const synopsis = "discover --balancer SSH_TARGET --upstream NAME [--nginx-test CMD] [--database SSH_TARGET|DSN] [-o FILE [--force]]"
	var opt discover.Options
	var out string
	var force bool
	fs := newFlagSet("discover", synopsis, stderr)
	fs.StringVar(&opt.Balancer, "balancer", "", "the nginx host: `user@host[:port]`, an ssh_config alias, or local")
	fs.StringVar(&opt.Upstream, "upstream", "", "the `NAME` of the upstream block that proxies to the application")
	fs.StringVar(&opt.NginxTest, "nginx-test", "nginx -t", "the `CMD` that tests the balancer's nginx (with -c/-p if it uses them); discover runs it with -T")
	fs.StringVar(&opt.Database, "database", "", "production's PostgreSQL primary: a connection string (`DSN`), or an SSH target where psql runs")
	fs.StringVar(&opt.Psql, "psql", "psql", "with --database SSH_TARGET: the psql `CMD` to run there, e.g. \"sudo -u postgres psql\"")
	fs.StringVar(&opt.SSHConfig, "ssh-config", "", "an ssh_config `FILE` to use instead of ~/.ssh/config")
	fs.StringVar(&out, "o", "", "write the inventory to `FILE` instead of printing it")
	fs.BoolVar(&force, "force", false, "with -o, overwrite FILE if it exists")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	if opt.Balancer == "" || opt.Upstream == "" {
		fmt.Fprintln(stderr, "pitstop discover: --balancer and --upstream are required: the nginx host and the upstream block's name")
		return exitBadInput
	}
	opt.Command = "pitstop discover " + strings.Join(redactArgs(args), " ")
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	d, err := discover.Discover(ctx, opt)
	if err != nil {
		fmt.Fprintln(stderr, "pitstop discover:", err)
		if errors.Is(err, discover.ErrNotFound) {
			return exitBadInput
		}
		return exitFailed
	}
	return writeDraft("discover", d, out, force, stdout, stderr)
}

// redactArgs hides a password in a --database connection string written into the draft's header.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if i > 0 && (args[i-1] == "--database" || args[i-1] == "-database") && strings.Contains(a, "=") || strings.Contains(a, "://") {
			out[i] = "DSN"
		}
		if strings.HasPrefix(a, "--database=") || strings.HasPrefix(a, "-database=") {
			out[i] = "--database=DSN"
		}
	}
	return out
}
