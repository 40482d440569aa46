package app_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/demo/app"
)

// startVariant runs the JSON variant until the test ends and waits until /status answers.
func startVariant(t *testing.T, version, db, name string) *instance {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.11:%d", nextPort.Add(1))
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Config{Version: version, Listen: addr, DB: db, Instance: name, Variant: app.VariantJSON,
			Logger: log.New(logs, name+" ", 0)})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	in := &instance{addr: addr, logs: logs}
	eventually(t, 10*time.Second, name+" answering /status", func() error {
		r, err := in.try("GET", "/status", "")
		if err != nil || r.status != 200 {
			return fmt.Errorf("%v %d", err, r.status)
		}
		return nil
	})
	return in
}

// TestVariantJSON: the JSON variant says its version only in /status's JSON, never in a header,
// and refuses writes to a read-only database with a plain-text 503.
func TestVariantJSON(t *testing.T) {
	db := newDatabase(t)
	p := startVariant(t, "v1", primary.ConnString("postgres", db), "app-p1")
	r := p.do(t, "GET", "/status", "")
	var s app.Status
	r.decode(t, &s)
	if s.Release != "v1" || s.Instance != "app-p1" || s.Database != "up" {
		t.Errorf("/status: %+v", s)
	}
	for _, path := range []string{"/status", "/health", "/items"} {
		if v := p.do(t, "GET", path, "").header.Get(app.HeaderVersion); v != "" {
			t.Errorf("GET %s carries %s %q; the variant says its version only in /status", path, app.HeaderVersion, v)
		}
	}
	if r := p.do(t, "POST", "/items", `{"name":"stored"}`); r.status != 201 {
		t.Errorf("POST on the primary: %d %s", r.status, r.body)
	}
	b := startVariant(t, "v1", standby.ConnString("postgres", db), "app-b1")
	r = b.do(t, "POST", "/items", `{"name":"refused"}`)
	if r.status != 503 || strings.TrimSpace(r.body) != "read-only maintenance" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("POST on the standby: %d %q (%s); want a plain-text 503 read-only maintenance", r.status, r.body, r.header.Get("Content-Type"))
	}
}
