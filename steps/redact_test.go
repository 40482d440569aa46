package steps

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"pg_basebackup -d postgresql://replicator:Hunter2@10.0.1.20/x -D /d": "pg_basebackup -d postgresql://replicator:xxxxx@10.0.1.20/x -D /d",
		"psql 'host=db user=app password=Hunter2 dbname=x'":                  "psql 'host=db user=app password=xxxxx dbname=x'",
		"PGPASSWORD=Hunter2 psql -h db":                                      "PGPASSWORD=xxxxx psql -h db",
		`psql "password='Hunter 2'" && true`:                                 `psql "password=xxxxx" && true`,
		"curl http://lb/health":                                              "curl http://lb/health",
		"ssh deploy@10.0.1.20 true":                                          "ssh deploy@10.0.1.20 true",
		"GET /health → 200, version 2.4.0 (7ms)":                             "GET /health → 200, version 2.4.0 (7ms)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEventsCarryNoPassword: a password written into an inventory's command reaches no event — not
// the gate's changes, not the output line of the command, not the step's error — nor the printed plan.
func TestEventsCarryNoPassword(t *testing.T) {
	inv := testInventory()
	inv.Upgrade.Commands = []string{"PGPASSWORD=Hunter2Secret shop-migrate --db postgresql://app:Hunter2Secret@db-p/shop"}
	f := newFakeWorld(inv)
	f.failRun["shop-migrate"] = []error{errors.New("command exited with status 1 on app-p1: " + inv.Upgrade.Commands[0])}
	r := startRun(t, f, PlanReadonly, true)
	r.finished()
	for _, ev := range r.seen {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "Hunter2Secret") {
			t.Errorf("event %s carries the password: %s", ev.Kind, b)
		}
	}
	p, _ := Build(inv, PlanReadonly)
	var out strings.Builder
	p.Describe(&out)
	if strings.Contains(out.String(), "Hunter2Secret") || !strings.Contains(out.String(), "app:xxxxx@db-p") {
		t.Errorf("the printed plan shows the password or lost the command:\n%s", out.String())
	}
}
