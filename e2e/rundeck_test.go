package e2e

// The Rundeck in this test is a STAND-IN, not a real Rundeck: Rundeck's server cannot be installed on
// these machines. It implements the documented endpoints Pitstop calls (system/info, job/{id}/info,
// job/{id}/run, execution/{id}, execution/{id}/output with offset and lastmod, execution/{id}/abort)
// and runs each job's work for real on this machine — the lab's own upgrade and migration commands —
// so that the plan's result can be checked on the lab, as with shell commands.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

const baseRundeck = 19100

// standInRundeck runs jobs as shell commands: job ID → command template ({node} is the node the
// run's filter names, {version} the version option).
type standInRundeck struct {
	srv   *httptest.Server
	token string
	jobs  map[string]string
	mu    sync.Mutex
	execs map[int64]*standInExec
	runs  []string
}

type standInExec struct {
	cmd     *exec.Cmd
	entries []map[string]string
	status  string
}

func newStandInRundeck(t *testing.T, token string, jobs map[string]string) *standInRundeck {
	s := &standInRundeck{token: token, jobs: jobs, execs: map[int64]*standInExec{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standInRundeck) serve(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("X-Rundeck-Auth-Token") != s.token {
		reply(401, map[string]any{"error": true, "errorCode": "api.error.authentication", "message": "unauthorized"})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/41/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case parts[0] == "system":
		reply(200, map[string]any{"system": map[string]any{"rundeck": map[string]any{"version": "stand-in"}}})
	case parts[0] == "job" && len(parts) == 3:
		tmpl, ok := s.jobs[parts[1]]
		if !ok {
			reply(404, map[string]any{"error": true, "errorCode": "api.error.item.doesnotexist", "message": "Job ID does not exist: " + parts[1]})
			return
		}
		if parts[2] == "info" {
			reply(200, map[string]any{"id": parts[1], "name": parts[1], "project": "lab"})
			return
		}
		var body struct {
			Options map[string]string `json:"options"`
			Filter  string            `json:"filter"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		node := strings.TrimSpace(strings.TrimPrefix(body.Filter, "name:"))
		line := strings.NewReplacer("{node}", node, "{version}", body.Options["version"]).Replace(tmpl)
		id := int64(len(s.execs) + 1)
		ex := &standInExec{status: "running", cmd: exec.Command("sh", "-c", line+" 2>&1")}
		s.execs[id] = ex
		s.runs = append(s.runs, parts[1]+" on "+node)
		out, _ := ex.cmd.StdoutPipe()
		if err := ex.cmd.Start(); err != nil {
			ex.status = "failed"
		} else {
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					s.mu.Lock()
					ex.entries = append(ex.entries, map[string]string{"log": sc.Text(), "level": "NORMAL", "node": node})
					s.mu.Unlock()
				}
				err := ex.cmd.Wait()
				s.mu.Lock()
				ex.status = map[bool]string{true: "succeeded", false: "failed"}[err == nil]
				s.mu.Unlock()
			}()
		}
		reply(200, map[string]any{"id": id, "permalink": fmt.Sprintf("%s/project/lab/execution/show/%d", s.srv.URL, id), "status": "running"})
	case parts[0] == "execution" && len(parts) >= 2:
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		ex := s.execs[id]
		if ex == nil {
			reply(404, map[string]any{"error": true, "message": "Execution ID does not exist"})
			return
		}
		switch {
		case len(parts) == 2:
			reply(200, map[string]any{"id": id, "status": ex.status})
		case parts[2] == "output":
			off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
			done := ex.status != "running"
			reply(200, map[string]any{"id": id, "offset": strconv.Itoa(len(ex.entries)), "lastModified": "1", "entries": ex.entries[min(off, len(ex.entries)):],
				"completed": done, "execCompleted": done, "execState": ex.status})
		case parts[2] == "abort":
			ex.cmd.Process.Kill()
			reply(200, map[string]any{"abort": map[string]any{"status": "aborted"}})
		}
	default:
		reply(404, map[string]any{"error": true, "message": "no such endpoint"})
	}
}

// TestRundeckJobsUpgradeLab runs the readonly plan on the real lab with the upgrade and the migration
// written as Rundeck jobs: Pitstop starts each through the API, streams its log under the host, and
// the lab ends upgraded, as with the same commands run directly.
func TestRundeckJobsUpgradeLab(t *testing.T) {
	l := startLab(t, baseRundeck, false)
	want := l.Inv
	expand := func(cmd string) string { // the lab's commands with {host} and {version} left for the job
		return strings.NewReplacer("{host}", "{node}").Replace(cmd)
	}
	rd := newStandInRundeck(t, "lab-token", map[string]string{
		"upgrade-shop": expand(want.Upgrade.Commands[0]),
		// A job defined in Rundeck names its database itself: {database_url} is Pitstop's placeholder.
		"migrate-shop": strings.ReplaceAll(want.Upgrade.Migrate.Commands[0], "{database_url}", shell.Quote(want.DatabaseURL())),
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rd.token"), []byte("lab-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(l.Report.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	text = replaceList(t, text, "  commands:\n", "    - rundeck: {job: upgrade-shop, options: {version: \"{version}\"}, filter: \"name: {host}\"}\n")
	text = replaceList(t, text, "    commands:\n", "      - rundeck: {job: migrate-shop, filter: \"name: {host}\"}\n")
	text += "\nrundeck:\n  url: " + rd.srv.URL + "\n  token_file: " + filepath.Join(dir, "rd.token") + "\n"
	file := filepath.Join(filepath.Dir(l.Report.Inventory), "rundeck-inventory.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	r := startRun(t, inv, runOptions{plan: steps.PlanReadonly, auto: true})
	if err := r.wait(3 * time.Minute); err != nil {
		t.Fatalf("readonly plan with Rundeck jobs: %v", err)
	}
	if sum := r.summary(); sum.Status != steps.StatusDone {
		t.Errorf("summary %+v", sum)
	}
	l.assertVersion(t, "app-p1", "v2")
	l.assertVersion(t, "app-b1", "v2")
	rd.mu.Lock()
	runs := strings.Join(rd.runs, ", ")
	rd.mu.Unlock()
	if runs != "upgrade-shop on app-p1, migrate-shop on app-p1, upgrade-shop on app-b1" {
		t.Errorf("Rundeck ran %s", runs)
	}
	// The job's log came back as the step's output, under the host.
	r.mu.Lock()
	defer r.mu.Unlock()
	started, logged := false, false
	for _, ev := range r.events {
		if ev.Kind == steps.EvOutput && ev.StepID == "upgrade-production" && ev.Host == "app-p1" {
			started = started || strings.Contains(ev.Text, "rundeck: execution 1 of job upgrade-shop started: "+rd.srv.URL+"/project/lab/execution/show/1")
			logged = logged || (ev.Text != "" && !strings.HasPrefix(ev.Text, "rundeck:") && !strings.HasPrefix(ev.Text, "$ "))
		}
	}
	if !started || !logged {
		t.Errorf("upgrade-production's output lacks the execution link (%t) or the job's log (%t):\n%s", started, logged, r.log.String())
	}
}

// replaceList replaces the list that follows the first header line (and its items) with items.
func replaceList(t *testing.T, text, header, items string) string {
	t.Helper()
	i := strings.Index(text, header)
	if i < 0 {
		t.Fatalf("no %q in the lab's inventory", header)
	}
	start := i + len(header)
	end := start
	indent := strings.Repeat(" ", len(header)-len(strings.TrimLeft(header, " "))+2) + "- "
	for end < len(text) {
		nl := strings.IndexByte(text[end:], '\n')
		if nl < 0 || !strings.HasPrefix(text[end:], indent) {
			break
		}
		end += nl + 1
	}
	return text[:start] + items + text[end:]
}
