package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitstop-ops/pitstop/demo/app"
)

func postgresUID() int {
	u, err := user.Lookup("postgres")
	if err != nil {
		return -1
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// nextPort hands each application instance of the tests its own port (16280…16299).
var nextPort atomic.Int32

func init() { nextPort.Store(16280) }

// newDatabase creates a database of its own for one test on the primary and returns its name.
func newDatabase(t *testing.T) string {
	t.Helper()
	name := "t_" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	exec(t, connAs(primary.ConnString("postgres", "postgres")), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	exec(t, connAs(primary.ConnString("postgres", "postgres")), "CREATE DATABASE "+name)
	return name
}

type connAs string

// exec runs statements on conn.
func exec(t *testing.T, conn connAs, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, string(conn))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// instance is one application instance running in-process for a test.
type instance struct {
	addr string
	logs *syncBuffer
}

// startApp runs the application until the test ends and waits until it answers.
func startApp(t *testing.T, version, db, name string) *instance {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.11:%d", nextPort.Add(1))
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Config{Version: version, Listen: addr, DB: db, Instance: name,
			Logger: log.New(logs, name+" ", 0)})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("app.Run did not return 10s after its context was cancelled")
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, logs.String())
		}
	})
	in := &instance{addr: addr, logs: logs}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("app.Run returned at start: %v", err)
		default:
		}
		if r, err := in.try("GET", "/health", ""); err == nil && r.header.Get(app.HeaderVersion) == version {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 10s", name, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer collects an instance's log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body is not the expected JSON (%v): %s", err, r.body)
	}
}

func (in *instance) try(method, path, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+in.addr+path, rd)
	if err != nil {
		return response{}, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func (in *instance) do(t *testing.T, method, path, body string) response {
	t.Helper()
	r, err := in.try(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// health fetches /health and decodes it.
func (in *instance) health(t *testing.T) (int, app.Health) {
	t.Helper()
	r := in.do(t, "GET", "/health", "")
	var h app.Health
	r.decode(t, &h)
	return r.status, h
}

// eventually retries f every 50ms until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantError checks an error response: status, Retry-After for 503s, the error code and the headers.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	var e app.ErrorBody
	r.decode(t, &e)
	if r.status != status || e.Error != code || e.Message == "" {
		t.Errorf("got %d %s, want %d with error %q and a message", r.status, r.body, status, code)
	}
	if status == 503 && r.header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: 1 (got %q)", r.header.Get("Retry-After"))
	}
	if r.header.Get(app.HeaderVersion) == "" || r.header.Get(app.HeaderInstance) == "" {
		t.Errorf("error response without X-App-Version/X-App-Instance: %v", r.header)
	}
}
