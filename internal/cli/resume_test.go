package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// TestChooseResume: a run finds the newest unfinished journal of its inventory and plan, skips
// finished ones and other inventories, and --new and --resume override it.
func TestChooseResume(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	dir := t.TempDir()
	invPath := filepath.Join(dir, "shop.yaml")
	inv := &inventory.Inventory{Name: "shop", Source: invPath}
	write := func(invFile, plan string, last steps.Event, age time.Duration) string {
		t.Helper()
		j, err := steps.CreateJournal(journalDir(), "shop-"+plan, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Begin(steps.JournalHeader{Plan: plan, Inventory: invFile, PID: 999999999}); err != nil {
			t.Fatal(err)
		}
		j.Write(steps.Event{Kind: steps.EvPlanStarted, Plan: plan})
		j.Write(last)
		j.Close()
		mt := time.Now().Add(-age)
		os.Chtimes(j.Path(), mt, mt)
		return j.Path()
	}
	finished := write(invPath, "readonly", steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusDone}, 0)
	old := write(invPath, "readonly", steps.Event{Kind: steps.EvStepFinished, StepID: "sync", Status: steps.StatusDone}, time.Hour)
	newest := write(invPath, "readonly", steps.Event{Kind: steps.EvPlanFinished, Status: steps.StatusAborted}, time.Minute)
	write(filepath.Join(dir, "other.yaml"), "readonly", steps.Event{Kind: steps.EvStepStarted}, 0)
	write(invPath, "reverse-sync", steps.Event{Kind: steps.EvStepStarted}, 0)
	_ = old

	var errb strings.Builder
	got, code := chooseResume(inv, "readonly", resumeFlags{}, &errb)
	if code >= 0 || got != newest {
		t.Errorf("found %q (code %d, %s), want the newest unfinished %s", got, code, errb.String(), newest)
	}
	if got, code := chooseResume(inv, "readonly", resumeFlags{fresh: true}, &errb); got != "" || code >= 0 {
		t.Errorf("--new: %q, %d", got, code)
	}
	errb.Reset()
	if _, code := chooseResume(inv, "readonly", resumeFlags{journal: finished}, &errb); code != exitBadInput || !strings.Contains(errb.String(), "that run finished") {
		t.Errorf("--resume of a finished run: code %d, %s", code, errb.String())
	}
	if got, code := chooseResume(&inventory.Inventory{Source: "demo"}, "readonly", resumeFlags{}, &errb); got != "" || code >= 0 {
		t.Errorf("demo: %q, %d", got, code)
	}
}
