package steps

import (
	"fmt"
	"io"
	"strings"
)

// Describe writes the plan for people: every phase, step, host and exact command, each gate and its
// conditions, and the upstream diff of each switch. It is what `pitstop plan` prints.
func (p *Plan) Describe(w io.Writer) {
	fmt.Fprintf(w, "Plan %s for %s\n", p.Name, p.Inventory)
	n := 0
	for i, ph := range p.Phases {
		fmt.Fprintf(w, "\n%d. %s\n", i+1, ph.Name)
		for _, st := range ph.Steps {
			n++
			gate := ""
			if st.Gate.Confirm {
				gate = "  [confirm]"
			}
			fmt.Fprintf(w, "   %2d) %s  (%s)%s\n", n, st.Title, st.ID, gate)
			for _, c := range st.Gate.Conditions {
				fmt.Fprintf(w, "       waits for: %s\n", describeCond(c))
			}
			if st.Gate.Timeout > 0 && len(st.Gate.Conditions) > 0 {
				fmt.Fprintf(w, "       fails if not met within %s\n", st.Gate.Timeout)
			}
			switch st.Action {
			case ActRun, ActRehearseUpgrade, ActRehearseMigrate:
				mode := "in parallel"
				if st.Serial || len(st.Exec) == 1 {
					mode = "one host at a time"
				}
				if len(st.Exec) > 1 {
					fmt.Fprintf(w, "       on %d hosts, %s:\n", len(st.Exec), mode)
				}
				for _, hc := range st.Exec {
					for _, c := range hc.Commands {
						fmt.Fprintf(w, "       %s$ %s\n", hc.Host, Redact(c))
					}
				}
			case ActSwitch:
				fmt.Fprintf(w, "       on %s: write %s atomically (previous kept as %s.pitstop-prev), then\n", strings.Join(st.Hosts, ","), st.Config.File, st.Config.File)
				for _, hc := range st.Exec {
					for _, c := range hc.Commands {
						fmt.Fprintf(w, "       %s$ %s\n", hc.Host, Redact(c))
					}
				}
				fmt.Fprintf(w, "       and prove nginx's workers changed and probes are served by %s; on any failure the previous file is restored\n", st.Side)
				if st.ConfigSource != "" {
					fmt.Fprintf(w, "       %s\n", st.ConfigSource)
				}
				for _, l := range diffLines(st.Config.Before, st.Config.After) {
					fmt.Fprintf(w, "       %s\n", l)
				}
			case ActPreflight:
				fmt.Fprintf(w, "       reach %s; read the live upstream, replication and the probe; changes nothing\n", strings.Join(st.Hosts, ", "))
			case ActVerifyDirect:
				if st.Version == "" {
					fmt.Fprintf(w, "       GET %s on each of %s directly; expects a 2xx answer (health status only: no version is compared)\n", st.Path, strings.Join(st.Hosts, ", "))
				} else {
					fmt.Fprintf(w, "       GET %s on each of %s directly; expects version %s read from the %s\n", st.Path, strings.Join(st.Hosts, ", "), st.Version, st.VersionSource)
				}
			case ActWaitSync, ActVerifyTraffic:
			case ActRehearseCheck, ActRehearseInspect, ActRehearseSmoke, ActRehearsePredict:
				fmt.Fprintf(w, "       %s\n", rehearseDescription(st))
			default:
				fmt.Fprintf(w, "       %s\n", onHosts(st))
			}
		}
	}
	fmt.Fprintln(w, "\nAt any gate after a switch, R rolls the balancer back to the previous upstream.")
}

func describeCond(c Condition) string {
	switch c.Kind {
	case CondLag:
		return fmt.Sprintf("replication %s→%s streaming with ≤ %s to replay, %d reading(s) in a row", c.From, c.To, Bytes(c.MaxBytes), c.Readings)
	case CondSuccess:
		return fmt.Sprintf("probe success ≥ %.1f%% over %s", c.MinSuccess, c.Window)
	case CondUpstream:
		return fmt.Sprintf("every probe over %s served by %s", c.Window, c.Side)
	case CondLive:
		return fmt.Sprintf("the balancer sends users to %s", c.Side)
	}
	return string(c.Kind)
}

// DatabaseAction says what a database step does, in the SQL the PostgreSQL adapter runs, so that an
// operator reading the plan (or the gate) knows what confirming it changes.
func DatabaseAction(st *Step) string {
	const name = "pitstop_reverse" // publication, slot and subscription of the reverse sync
	switch st.Action {
	case ActPauseReplay:
		return "SELECT pg_wal_replay_pause() — the standby keeps receiving WAL but stops applying it"
	case ActResumeReplay:
		return "SELECT pg_wal_replay_resume()"
	case ActFence:
		return "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf(); then pg_terminate_backend() for sessions still inside a write transaction"
	case ActUnfence:
		return "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()"
	case ActPromote:
		return "SELECT pg_promote(wait => true) — the standby becomes a primary and stops following its primary"
	case ActCapture:
		return "CREATE PUBLICATION " + name + " FOR ALL TABLES; SELECT pg_create_logical_replication_slot('" + name + "', 'pgoutput')"
	case ActReverseStart:
		return "on " + st.To + ": CREATE SUBSCRIPTION " + name + " … PUBLICATION " + name + " WITH (copy_data = false, create_slot = false) — replays " + st.From + "'s changes"
	case ActAdvanceSeq:
		return "on " + st.To + ": SELECT setval(seq, last value on " + st.From + ") for every sequence " + st.From + " advanced"
	case ActReverseStop:
		return "DROP SUBSCRIPTION " + name + " on " + st.To + "; drop the slot and the publication " + name + " on " + st.From
	}
	return string(st.Action)
}

// onHosts is a database step's action prefixed with the hosts it runs on, unless the action already
// names its hosts ("on db-b: CREATE SUBSCRIPTION …"): a prefix said twice reads as a typo.
func onHosts(st *Step) string {
	act := DatabaseAction(st)
	if len(st.Hosts) == 0 || strings.HasPrefix(act, "on ") || st.Action == ActReverseStop {
		return act
	}
	return "on " + strings.Join(st.Hosts, ", ") + ": " + act
}
