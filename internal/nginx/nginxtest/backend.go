package nginxtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backend is a small application server on a fixed loopback address. It answers every GET with its
// name and an X-App-Version header (GET /slow?for=DURATION after that long), and every POST with 201, or 503 while it is read-only (as the
// application does when its database refuses writes).
type Backend struct {
	Name string
	Addr string

	version  atomic.Value // string
	readOnly atomic.Bool
	jsonOnly atomic.Bool
	hits     atomic.Int64

	mu  sync.Mutex
	srv *httptest.Server
}

// StartBackend starts a backend named name on addr (host:port) reporting version, and stops it when
// the test ends.
func StartBackend(t testing.TB, name, addr, version string) *Backend {
	t.Helper()
	b := &Backend{Name: name, Addr: addr}
	b.version.Store(version)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// Start listens again after Stop.
func (b *Backend) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	l, err := net.Listen("tcp", b.Addr)
	if err != nil {
		return fmt.Errorf("backend %s: listen on %s: %w", b.Name, b.Addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	b.srv = srv
	return nil
}

// Stop closes the listener and every connection: nginx then gets "connection refused".
func (b *Backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.CloseClientConnections()
		b.srv.Close()
		b.srv = nil
	}
}

// SetReadOnly makes POSTs answer 503 (true) or 201 (false).
func (b *Backend) SetReadOnly(ro bool) { b.readOnly.Store(ro) }

// SetJSONOnly makes the backend an application of another kind (true): it reports its version only
// in the JSON body of GET /status ({"release":…}), in no header, and refuses writes while read-only
// with a plain-text 503 "read-only maintenance".
func (b *Backend) SetJSONOnly(on bool) { b.jsonOnly.Store(on) }

// SetVersion changes the version the backend reports.
func (b *Backend) SetVersion(v string) { b.version.Store(v) }

// Hits is how many requests the backend answered.
func (b *Backend) Hits() int64 { return b.hits.Load() }

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	version := b.version.Load().(string)
	if b.jsonOnly.Load() {
		switch {
		case r.Method == http.MethodPost && b.readOnly.Load():
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "read-only maintenance")
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "%s stored\n", b.Name)
		case r.URL.Path == "/status":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"name":%q,"release":%q,"build":{"version":%q}}`+"\n", b.Name, version, version)
		default:
			fmt.Fprintf(w, "%s\n", b.Name)
		}
		return
	}
	w.Header().Set("X-App-Version", version)
	if r.URL.Path == "/slow" { // a long request (a download, say): answers after ?for=DURATION
		d, _ := time.ParseDuration(r.URL.Query().Get("for"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	if r.Method == http.MethodPost {
		if b.readOnly.Load() {
			// As demo/app answers when its database is read-only: the probe counts this as refused.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"error":"read_only","message":"the database is read-only during maintenance; retry shortly"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s stored\n", b.Name)
		return
	}
	fmt.Fprintf(w, "%s %s\n", b.Name, b.version.Load().(string))
}
