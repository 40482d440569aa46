package live

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// checkBalancers proves, on every balancer, that the nginx tested is the nginx serving, then reads
// the live upstream and proves users are served by that side, with the upstream named in each answer.
// It returns the side the upstream names ("" when it could not be read).
func checkBalancers(ctx context.Context, w *World, inv *inventory.Inventory, ck *checker) inventory.Side {
	for _, b := range w.Balancers.Members() {
		line, err := b.Check(ctx)
		what := b.Host() + ": " + line
		if err != nil {
			what = fmt.Sprintf("%s: the nginx that %s tests serves and loads %s", b.Host(), inv.Balancer.Test, inv.Balancer.File)
		}
		ck.report(what, err)
	}
	side, err := w.Balancers.Live(ctx)
	ck.report(fmt.Sprintf("%s: live upstream in %s is %s", strings.Join(inv.Balancer.Hosts, ", "), inv.Balancer.File, side), err)
	if err != nil {
		return ""
	}
	if live, err := w.Nginx.LiveFile(ctx); err == nil {
		for _, n := range paramsOnlyInFile(inv, live) {
			ck.noteLine(n)
		}
	}
	proof, err := w.Probe.ServedBy(ctx, side, 5*time.Second)
	st := w.Probe.Stats(time.Minute)
	if st.Requests > st.Failed && st.LastUpstream == "" {
		// Answers came, none named its upstream: nothing can prove a switch.
		ck.report("users: answers name the upstream that served them",
			fmt.Errorf("the answers through %s carry no %s header, so no switch can be proven; add `%s` to the nginx location that proxies to upstream %s, then reload nginx",
				inv.Probe.URL, inv.Probe.UpstreamHeader, nginx.UpstreamHeaderHint(inv.Probe.UpstreamHeader), inv.Balancer.Upstream))
		return side
	}
	if err != nil {
		proof = "served by " + string(side) + " through the balancer"
		if served := servedSide(ctx, w, time.Second); served != "" && served != side {
			err = fmt.Errorf("%w; %s", err, steps.MismatchFix(inv, side, served))
		}
	}
	ck.report("users: "+proof, err)
	return side
}

// checkVersions reads the version of every app host of both sides from upgrade.verify's source and
// prints what it read; a source that yields nothing fails with the fix.
func checkVersions(ctx context.Context, w *World, inv *inventory.Inventory, ck *checker) {
	v := inv.Upgrade.Verify
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, app := range inv.Sides.Get(side).Apps {
			c, err := w.Probe.Check(ctx, app)
			switch {
			case err != nil:
				ck.report(app+" "+v.Path, err)
			case !c.OK:
				ck.report(app+" "+v.Path, fmt.Errorf("%s", c.Err))
			case v.HealthOnly:
				ck.report(fmt.Sprintf("%s %s → %d (health status only: upgrade.verify.version is \"\", no version is compared)", app, v.Path, c.Status), nil)
			case c.Version == "":
				ck.report(fmt.Sprintf("%s %s %s", app, v.Path, v.VersionSource()),
					fmt.Errorf("%s; point upgrade.verify at where the application says its version (header:, json: a.b, or body: with one group), or write version: \"\" to check the health status only", c.VersionNote))
			default:
				ck.report(fmt.Sprintf("%s %s %s = %s", app, v.Path, v.VersionSource(), c.Version), nil)
			}
		}
	}
}

// paramsOnlyInFile lists the app hosts whose server line in the live upstream file has parameters
// (weight=, max_fails=, …) that the inventory does not give (hosts.NAME.server_params): a switch
// away and back writes their line without them.
func paramsOnlyInFile(inv *inventory.Inventory, live string) []string {
	servers, _ := inv.UpstreamServers(live)
	var out []string
	for _, s := range servers {
		if len(s) < 2 {
			continue
		}
		for _, name := range inv.HostNames() {
			h := inv.Hosts[name]
			if h != nil && h.Serve == s[0] && h.ServerParams == "" {
				p := strings.Join(s[1:], " ")
				out = append(out, fmt.Sprintf("%s: its server line in %s has %q, which hosts.%s.server_params does not give: after a switch away and back it is written without them; add server_params: %q to keep them",
					name, inv.Balancer.File, p, name, p))
			}
		}
	}
	return out
}
