// Package steps is Pitstop's engine: it builds a plan as data (phases, steps, gates, the exact
// command per host or the config change; Build, PlanNames), runs it against the ports it declares
// (Runner for commands on hosts, Balancer, Database, Probe, Clock, gathered in a World), waits at
// each gate for an operator's Decision while live conditions hold, and emits every event to one
// Emit func that the cockpit (package ui), the headless printer (Printer) and the JSONL Journal
// consume alike. It knows nothing of the screen or of SSH, nginx and PostgreSQL: the real adapters
// under internal/ and the simulated world of package demo are peers behind the same ports.
package steps
