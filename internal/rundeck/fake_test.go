package rundeck

// This file is a STAND-IN FOR A REAL RUNDECK. Rundeck's server cannot be installed on the machines
// these tests run on (no Debian package; only the Go, Debian and npm registries are reachable), so
// the client is tested against this local HTTP server, which implements the documented endpoints
// Pitstop uses — system/info, job/{id}/info, job/{id}/run, execution/{id}, execution/{id}/output
// (offset, lastmod, entries, completed, execCompleted, execState) and execution/{id}/abort — with
// Rundeck's JSON error answers (401 for a bad token, 404 for an unknown job or execution). It follows
// the API documentation, not a recording of a real server: a real Rundeck may differ in details.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const goodToken = "tok-3f9d2c"

// fakeJob is how one job behaves when run.
type fakeJob struct {
	name string
	// pieces is the log, one piece released per output request.
	pieces [][]LogEntry
	// final is the state after the last piece ("" runs until aborted).
	final string
}

type fakeExec struct {
	id       int64
	job      string
	options  map[string]string
	filter   string
	released int // pieces released
	offsets  []int64
	status   string
}

type fakeRundeck struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	jobs map[string]*fakeJob
	exec map[int64]*fakeExec
	next int64
	// aborts counts abort requests.
	aborts int
}

func newFakeRundeck(t *testing.T, jobs map[string]*fakeJob) *fakeRundeck {
	f := &fakeRundeck{t: t, jobs: jobs, exec: map[int64]*fakeExec{}, next: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRundeck) client(t *testing.T, token string) *Client {
	c, err := New(f.srv.URL, token, 41)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiError answers as Rundeck does: {"error": true, "apiversion": 41, "errorCode": …, "message": …}.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": true, "apiversion": 41, "errorCode": code, "message": msg})
}

func (f *fakeRundeck) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-Rundeck-Auth-Token") != goodToken {
		apiError(w, http.StatusUnauthorized, "api.error.authentication", "(Token:****) is not authorized")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/41/")
	if !ok {
		apiError(w, http.StatusBadRequest, "api.error.api-version.unsupported", "unsupported API version")
		return
	}
	parts := strings.Split(rest, "/")
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == "GET" && rest == "system/info":
		reply(map[string]any{"system": map[string]any{"rundeck": map[string]any{"version": "5.0.0-fake", "apiversion": 48}}})
	case len(parts) == 3 && parts[0] == "job" && (parts[2] == "info" || parts[2] == "run"):
		j := f.jobs[parts[1]]
		if j == nil {
			apiError(w, http.StatusNotFound, "api.error.item.doesnotexist", "Job ID does not exist: "+parts[1])
			return
		}
		if parts[2] == "info" && r.Method == "GET" {
			reply(map[string]any{"id": parts[1], "name": j.name, "group": "shop", "project": "ops", "permalink": f.srv.URL + "/project/ops/job/show/" + parts[1]})
			return
		}
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
			apiError(w, http.StatusBadRequest, "api.error.invalid.request", "POST application/json expected")
			return
		}
		var body struct {
			Options map[string]string `json:"options"`
			Filter  string            `json:"filter"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			apiError(w, http.StatusBadRequest, "api.error.invalid.request", err.Error())
			return
		}
		f.next++
		ex := &fakeExec{id: f.next, job: parts[1], options: body.Options, filter: body.Filter, status: "running"}
		f.exec[ex.id] = ex
		reply(map[string]any{"id": ex.id, "href": f.srv.URL + "/api/41/execution/" + strconv.FormatInt(ex.id, 10),
			"permalink": f.permalink(ex.id), "status": "running", "project": "ops", "job": map[string]any{"id": parts[1], "name": j.name}})
	case len(parts) >= 2 && parts[0] == "execution":
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		ex := f.exec[id]
		if ex == nil {
			apiError(w, http.StatusNotFound, "api.error.item.doesnotexist", "Execution ID does not exist: "+parts[1])
			return
		}
		switch {
		case len(parts) == 2 && r.Method == "GET":
			reply(map[string]any{"id": ex.id, "status": ex.status, "permalink": f.permalink(ex.id)})
		case len(parts) == 3 && parts[2] == "output" && r.Method == "GET":
			f.output(w, r, ex, reply)
		case len(parts) == 3 && parts[2] == "abort" && r.Method == "POST":
			f.aborts++
			if ex.status == "running" {
				ex.status = "aborted"
			}
			reply(map[string]any{"abort": map[string]any{"status": "aborted"}, "execution": map[string]any{"id": ex.id, "status": ex.status}})
		default:
			apiError(w, http.StatusNotFound, "api.error.item.doesnotexist", "no such endpoint")
		}
	default:
		apiError(w, http.StatusNotFound, "api.error.item.doesnotexist", "no such endpoint")
	}
}

func (f *fakeRundeck) permalink(id int64) string {
	return fmt.Sprintf("%s/project/ops/execution/show/%d", f.srv.URL, id)
}

// output releases one more piece of the log per request and answers from the offset asked, which
// must be the offset it gave last (the log is addressed in bytes, as Rundeck does).
func (f *fakeRundeck) output(w http.ResponseWriter, r *http.Request, ex *fakeExec, reply func(any)) {
	j := f.jobs[ex.job]
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || r.URL.Query().Get("lastmod") == "" {
		apiError(w, http.StatusBadRequest, "api.error.invalid.request", "offset and lastmod are required")
		return
	}
	ex.offsets = append(ex.offsets, offset)
	if ex.status == "running" && ex.released < len(j.pieces) {
		ex.released++
	}
	if ex.status == "running" && ex.released == len(j.pieces) && j.final != "" {
		ex.status = j.final
	}
	// Bytes of the log so far, each entry counted as its text plus a newline.
	var all []LogEntry
	for _, p := range j.pieces[:ex.released] {
		all = append(all, p...)
	}
	var pos int64
	var entries []LogEntry
	for _, e := range all {
		if pos >= offset {
			entries = append(entries, e)
		}
		pos += int64(len(e.Log) + 1)
	}
	done := ex.status != "running"
	reply(map[string]any{
		"id": ex.id, "offset": strconv.FormatInt(pos, 10), "lastModified": strconv.FormatInt(1700000000000+int64(ex.released), 10),
		"completed": done, "execCompleted": done, "hasFailedNodes": ex.status == "failed", "execState": ex.status,
		"entries": entries,
	})
}

func (f *fakeRundeck) execution(id int64) fakeExec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.exec[id]
}
