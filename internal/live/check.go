package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/internal/rundeck"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// Check runs the preflight against real hosts and prints one line per result: every host reachable
// (with a known host key over SSH), sudo where a command for that host uses it, on each balancer
// that the nginx tested is the nginx serving (pid file, -T listing the upstream file) with a writable
// directory, its live upstream, that users through the balancer are served by that side and their
// answers name the upstream, the version each app host reports from upgrade.verify's source, the
// databases' roles and replication, and what the reverse-sync plan would need. It changes nothing — its probe only reads — and reports whether all passed.
//
// Each cause is said once: a host that cannot be reached is one FAIL line listing the checks it
// blocks, which are counted as not run, and a later failure with the same cause (the same name that
// does not resolve, the same address that refuses) joins that line instead of repeating it. The last
// line counts the results: "3 ok, 1 failed, 2 not run". Lines marked "note" concern only the
// reverse-sync plan and do not fail the check.
func Check(ctx context.Context, inv *inventory.Inventory, out io.Writer) bool {
	inv = withoutWrites(inv)
	w, err := Open(ctx, inv, Options{})
	if err != nil {
		fmt.Fprintln(out, "FAIL  "+oneLine(err))
		fmt.Fprintln(out, "0 ok, 1 failed")
		return false
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c := &checker{causes: map[string]*result{}, hostFail: map[string]*result{}}
	if w.Rundeck != nil {
		lines, err := rundeck.Check(ctx, w.Rundeck, inv)
		for _, l := range lines {
			c.report(l, nil)
		}
		if err != nil {
			c.report("rundeck", err)
		}
	}

	// Hosts first, in the inventory's order whatever order they answer in.
	hosts := inv.HostNames()
	per := make([][]*result, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			what := h + ": reachable, host key known"
			if t, err := inventory.ParseTarget(inv.Hosts[h].SSH); err == nil && t.Local {
				what = h + ": runs commands locally"
			}
			err := w.Hosts.Check(ctx, h)
			if err != nil {
				per[i] = append(per[i], &result{status: stFail, what: what, detail: oneLine(err), host: h})
				return
			}
			per[i] = append(per[i], &result{status: stOK, what: what})
			if usesSudo(inv, h) {
				err := w.Hosts.Run(ctx, h, "sudo -n true", func(steps.Stream, string) {})
				r := &result{status: stOK, what: h + ": sudo without a password"}
				if err != nil {
					r.status, r.detail = stFail, oneLine(err)+"; this host's commands use sudo: allow them in sudoers (NOPASSWD) for this user"
				}
				per[i] = append(per[i], r)
			}
		})
	}
	wg.Wait()
	for _, rs := range per {
		for _, r := range rs {
			c.add(r)
		}
	}

	bal := inv.Balancer.Host
	if !c.blocked(bal, "the proof that "+inv.Balancer.Test+" tests the serving nginx", "nginx's processes and pid file", "the live upstream", "users through the balancer") {
		if side := checkBalancers(ctx, w, inv, c); side != "" {
			checkApps(ctx, w, inv, side, c)
		}
		checkVersions(ctx, w, inv, c)
		checkLock(ctx, w, c)
	}

	for _, err := range w.DB.Check(ctx) {
		c.report(databaseOf(inv, err), err)
	}
	lags, err := w.DB.Replication(ctx)
	if err != nil {
		c.report("replication", err)
	}
	for _, l := range lags {
		if l.Streaming {
			c.report(fmt.Sprintf("%s streaming, %s to replay", l.Link(), steps.Bytes(l.Replay)), nil)
			if l.Paused {
				c.report(l.Link(), errors.New(steps.PausedText(l.To)))
			}
			continue
		}
		why := fmt.Errorf("%s is not streaming", l.Link())
		if l.Err != "" {
			why = fmt.Errorf("%s is not streaming: %s", l.Link(), l.Err)
		}
		c.report(l.Link()+" replication", why)
	}
	for _, s := range w.DB.HalfDone(ctx) {
		c.report("half-done", errors.New(s))
	}
	prod, back := inv.Sides.Production.Database, inv.Sides.Backup.Database
	if err := w.DB.CheckReverseSync(ctx, back, prod); err != nil {
		c.note("reverse-sync plan not possible yet (the readonly plan does not need it)", err)
	} else {
		c.report(fmt.Sprintf("reverse-sync plan possible (%s: wal_level = logical, every table has a key)", back), nil)
	}
	return c.print(out)
}

// Result states of a check line.
const (
	stOK = iota
	stFail
	stNote
)

// result is one line of the check: what was checked, and for a failure why and what it blocked.
type result struct {
	status int
	what   string
	detail string
	host   string   // the host that could not be reached, for a reachability failure
	blocks []string // checks not run, or failing for the same cause, because of this one
}

// checker collects results so that each cause is printed once.
type checker struct {
	results  []*result
	causes   map[string]*result // cause key → the first result that failed for it
	hostFail map[string]*result // host → its reachability failure
	notRunN  int
}

// add records r; a failure whose cause was already reported joins that result instead.
func (c *checker) add(r *result) {
	if r.status != stOK {
		key := causeKey(r.detail)
		if first := c.causes[key]; key != "" && first != nil {
			first.blocks = append(first.blocks, r.what)
			c.notRunN++
			return
		}
		if key != "" {
			c.causes[key] = r
		}
		if r.host != "" {
			c.hostFail[r.host] = r
		}
	}
	c.results = append(c.results, r)
}

// report records a check that passed (err nil) or failed.
func (c *checker) report(what string, err error) {
	if err == nil {
		c.add(&result{status: stOK, what: what})
		return
	}
	c.add(&result{status: stFail, what: what, detail: oneLine(err)})
}

// noteLine records a note that carries no error: information that does not fail the check.
func (c *checker) noteLine(what string) {
	c.add(&result{status: stNote, what: what})
}

// note records a failure that does not fail the check.
func (c *checker) note(what string, err error) {
	c.add(&result{status: stNote, what: what, detail: oneLine(err)})
}

// blocked reports whether host could not be reached; the checks named are then listed under its
// failure and counted as not run.
func (c *checker) blocked(host string, whats ...string) bool {
	r := c.hostFail[host]
	if r == nil {
		return false
	}
	r.blocks = append(r.blocks, whats...)
	c.notRunN += len(whats)
	return true
}

// print writes every result and the summary line, and reports whether nothing failed.
func (c *checker) print(out io.Writer) bool {
	ok, failed := 0, 0
	for _, r := range c.results {
		switch r.status {
		case stOK:
			ok++
			fmt.Fprintf(out, "ok    %s\n", r.what)
		case stFail:
			failed++
			fmt.Fprintf(out, "FAIL  %s\n", join(r.what, r.detail))
		case stNote:
			fmt.Fprintf(out, "note  %s\n", join(r.what, r.detail))
		}
		if len(r.blocks) > 0 {
			fmt.Fprintf(out, "      not run or failing for the same cause: %s\n", strings.Join(r.blocks, "; "))
		}
	}
	sum := fmt.Sprintf("%d ok, %d failed", ok, failed)
	if c.notRunN > 0 {
		sum += fmt.Sprintf(", %d not run", c.notRunN)
	}
	fmt.Fprintln(out, sum)
	return failed == 0
}

// join is "what: detail", or what alone when there is no detail: never an empty field.
func join(what, detail string) string {
	if strings.TrimSpace(detail) == "" {
		return what
	}
	return what + ": " + detail
}

// Causes recognised in error texts, so that one unreachable name or address is reported once.
var (
	lookupRE  = regexp.MustCompile(`lookup ([^\s:]+)`)
	refusedRE = regexp.MustCompile(`dial tcp ([^\s]+): connect: connection refused`)
)

// causeKey names the cause of a failure when it is one that every check of that host shares: a
// name that does not resolve, an address that refuses connections. "" when it is none of those.
func causeKey(detail string) string {
	if m := lookupRE.FindStringSubmatch(detail); m != nil {
		return "lookup " + m[1]
	}
	if m := refusedRE.FindStringSubmatch(detail); m != nil {
		return "refused " + m[1]
	}
	return ""
}

// oneLine puts an error on one line: several errors (pgx lists each address it tried) are joined
// with "; ", each said once, and a part left empty by a line break leaves no hole (": ;").
func oneLine(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range strings.Split(err.Error(), "\n") {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		switch s := b.String(); {
		case s == "":
		case strings.HasSuffix(s, ":"):
			b.WriteString(" ") // "add the host with:" goes on with what to add
		default:
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return strings.TrimSuffix(b.String(), ":")
}

// databaseOf names the database host a database check's error is about ("database db-p"), or
// "databases" when it names none.
func databaseOf(inv *inventory.Inventory, err error) string {
	msg := err.Error()
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		if h := inv.Sides.Get(side).Database; h != "" && strings.Contains(msg, "on "+h+":") {
			return "database " + h
		}
	}
	for _, h := range inv.HostNames() {
		if strings.Contains(msg, "on "+h+":") {
			return "database " + h
		}
	}
	return "databases"
}
