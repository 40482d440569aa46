package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// WriteAnswer is how a FakeApp answers a POST.
type WriteAnswer struct {
	Status     int
	RetryAfter string // the Retry-After header, none when ""
	Body       string
}

// Answers to a write, as the application (demo/app, indented JSON) or nginx in front of it give them.
var (
	WriteStored   = WriteAnswer{Status: http.StatusCreated, Body: `{"id": 1}`}
	WriteReadOnly = WriteAnswer{Status: http.StatusServiceUnavailable, RetryAfter: "1",
		Body: `{"error": "read_only", "message": "the database is read-only (a hot standby, or a primary fenced for an upgrade): writes are refused; reads still work; retry in a moment"}`}
	// nginx's own page for limit_req (limit_req_status defaults to 503) and for a maintenance return 503.
	WriteNginx503 = WriteAnswer{Status: http.StatusServiceUnavailable,
		Body: "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"}
	WriteMaintenance = WriteAnswer{Status: http.StatusServiceUnavailable, RetryAfter: "120",
		Body: "<html><body><h1>Down for maintenance</h1><p>read_only mode for the upgrade; back soon</p></body></html>"}
	WriteUnavailable = WriteAnswer{Status: http.StatusServiceUnavailable, RetryAfter: "1",
		Body: `{"error": "unavailable", "message": "the database is unavailable: connection refused"}`}
	WriteReadOnlyNoRetry = WriteAnswer{Status: http.StatusServiceUnavailable, Body: WriteReadOnly.Body}
	WriteServerError     = WriteAnswer{Status: http.StatusInternalServerError, Body: `{"error": "internal"}`}
)

// FakeApp is an application server for the tests: it answers GETs 200 with X-App-Version 1.0, POSTs
// as SetWrite says (WriteStored at first), and notes the basic-auth credentials of every request.
// Exported for the probe_test package.
type FakeApp struct {
	// Addr is where it listens.
	Addr string
	// upstream, when set, is sent as X-Upstream (where no nginx in front adds it).
	upstream string
	write    atomic.Pointer[WriteAnswer]
	mu       sync.Mutex
	seen     map[string]int // "METHOD user:password" (or "METHOD -" without basic auth) → requests
}

// StartFakeApp listens on addr until the test ends; upstream, when not "", is sent as X-Upstream.
func StartFakeApp(t testing.TB, addr, upstream string) *FakeApp {
	t.Helper()
	a := &FakeApp{Addr: addr, upstream: upstream, seen: map[string]int{}}
	a.SetWrite(WriteStored)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("fake app: listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(a)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return a
}

// SetWrite sets how POSTs are answered from now on.
func (a *FakeApp) SetWrite(w WriteAnswer) { a.write.Store(&w) }

// Seen returns how many requests came with each method and credentials ("GET ops:pw", "POST -").
func (a *FakeApp) Seen() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.seen))
	for k, v := range a.seen {
		out[k] = v
	}
	return out
}

// ServeHTTP answers one request.
func (a *FakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cred := "-"
	if user, pass, ok := r.BasicAuth(); ok {
		cred = user + ":" + pass
	}
	a.mu.Lock()
	a.seen[r.Method+" "+cred]++
	a.mu.Unlock()
	if a.upstream != "" {
		w.Header().Set("X-Upstream", a.upstream)
	}
	w.Header().Set("X-App-Version", "1.0")
	if r.Method != http.MethodPost {
		fmt.Fprintln(w, "fake app 1.0")
		return
	}
	ans := a.write.Load()
	if ans.RetryAfter != "" {
		w.Header().Set("Retry-After", ans.RetryAfter)
	}
	w.WriteHeader(ans.Status)
	fmt.Fprintln(w, ans.Body)
}
