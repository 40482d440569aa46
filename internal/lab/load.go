package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadOptions configure a load generator: simulated users reading and writing through the balancer.
type LoadOptions struct {
	// ReadURL is fetched with GET by every reader (the inventory's probe.url: through nginx).
	ReadURL string
	// WriteURL receives a POST {"name": "<unique>"} every WriteEvery ("" for no writes).
	WriteURL string
	// ReadRate is the reads per second, all readers together (default 200).
	ReadRate int
	// Readers is how many reads may be in flight at once, one per worker (default 8).
	Readers int
	// WriteEvery is the time between two writes (default 50ms). Each write runs on its own, so a slow
	// answer does not delay the next one.
	WriteEvery time.Duration
	// Timeout bounds one request (default 2s); a request that times out counts as failed.
	Timeout time.Duration
	// FreshReads opens a new connection for every read. By default readers keep connections alive, as
	// browsers do; Go's client then re-sends a GET on a fresh connection when nginx closed the idle
	// one (during a reload), as browsers do too.
	FreshReads bool
	// KeepAliveWrites reuses connections for writes. By default every write opens a new connection: a
	// POST is not idempotent, so a client must not re-send it when nginx closes an idle keep-alive
	// connection under it during a reload, and that race would say nothing about the upgrade.
	KeepAliveWrites bool
	// UpstreamHeader and VersionHeader name the response headers recorded with each request
	// (default X-Upstream and X-App-Version).
	UpstreamHeader, VersionHeader string
	// NamePrefix starts the name of every write (default "load-" and the start time), so the names are
	// unique across runs.
	NamePrefix string
	// AnyRefusal counts every 503 to a write as refused, as Pitstop's probe does by default: for an
	// application that refuses in its own words (the lab's JSON variant says "read-only
	// maintenance"). By default only the lab application's own refusal counts (503, Retry-After and
	// its "read_only" error), so that a database that is down shows as failed writes.
	AnyRefusal bool
}

func (o *LoadOptions) defaults() error {
	if o.ReadURL == "" {
		return fmt.Errorf("load: no read URL: give the balancer's URL, e.g. the inventory's probe.url")
	}
	for _, u := range []string{o.ReadURL, o.WriteURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("load: %q is not an http(s) URL with a host", u)
		}
	}
	if o.ReadRate <= 0 {
		o.ReadRate = 200
	}
	if o.Readers <= 0 {
		o.Readers = 8
	}
	if o.WriteEvery <= 0 {
		o.WriteEvery = 50 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.UpstreamHeader == "" {
		o.UpstreamHeader = "X-Upstream"
	}
	if o.VersionHeader == "" {
		o.VersionHeader = "X-App-Version"
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "load-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return nil
}

// Op is what a request did.
type Op string

// The two kinds of request a load generator makes.
const (
	OpRead  Op = "read"
	OpWrite Op = "write"
)

// Outcome classifies one request.
type Outcome string

// Request outcomes.
const (
	// OK is a 2xx answer.
	OK Outcome = "ok"
	// Refused is a write answered 503 with Retry-After and the application's read_only error: the
	// database is read-only on purpose, and the client is told to retry.
	Refused Outcome = "refused"
	// Failed is anything else: a connection error, a timeout, a 5xx from nginx or the application.
	Failed Outcome = "failed"
)

// Request is one request the load generator made.
type Request struct {
	Op      Op            `json:"op"`
	Start   time.Time     `json:"start"`
	Latency time.Duration `json:"latency"`
	Outcome Outcome       `json:"outcome"`
	// Status is the HTTP status, 0 when there was no answer.
	Status   int    `json:"status,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	Version  string `json:"version,omitempty"`
	// Err says why a failed request failed.
	Err string `json:"err,omitempty"`
	// Name is the name a write sent.
	Name string `json:"name,omitempty"`
}

// End is when the answer arrived (or the request gave up).
func (r Request) End() time.Time { return r.Start.Add(r.Latency) }

// Load is a running load generator. Create it with StartLoad and end it with Stop.
type Load struct {
	opt    LoadOptions
	read   *http.Client
	write  *http.Client
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	reqs   []Request
	acked  []string
	report *LoadReport
}

// maxWritesInFlight bounds the writes waiting for an answer at once (a stalled balancer would
// otherwise pile them up).
const maxWritesInFlight = 64

// StartLoad starts the readers and the writer. They run until Stop is called or ctx ends; requests cut
// short by the end of ctx are not recorded.
func StartLoad(ctx context.Context, opt LoadOptions) (*Load, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	// Stop ends the loops through stop; requests already sent finish (within Timeout) with ctx.
	stop, cancel := context.WithCancel(ctx)
	l := &Load{opt: opt, start: time.Now(), cancel: cancel,
		read:  newLoadClient(opt.Timeout, opt.Readers, !opt.FreshReads),
		write: newLoadClient(opt.Timeout, maxWritesInFlight, opt.KeepAliveWrites),
	}
	interval := time.Duration(opt.Readers) * time.Second / time.Duration(opt.ReadRate)
	for i := range opt.Readers {
		l.wg.Go(func() {
			l.reader(ctx, stop, l.start.Add(time.Duration(i)*interval/time.Duration(opt.Readers)), interval)
		})
	}
	if opt.WriteURL != "" {
		l.wg.Go(func() { l.writer(ctx, stop) })
	}
	return l, nil
}

func newLoadClient(timeout time.Duration, idle int, keepAlive bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // straight to the balancer, never through $HTTP_PROXY
	tr.MaxIdleConnsPerHost = idle
	tr.DisableKeepAlives = !keepAlive
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// reader makes one GET every interval from next on, until stop ends. When a request takes longer
// than interval, the missed slots are dropped rather than made up in a burst.
func (l *Load) reader(ctx, stop context.Context, next time.Time, interval time.Duration) {
	for {
		if !sleepUntil(stop, next) {
			return
		}
		r := l.do(ctx, OpRead, l.opt.ReadURL, nil)
		if ctx.Err() != nil {
			return // cut short by the caller's context: it says nothing about the balancer
		}
		l.add(r)
		next = next.Add(interval)
		if now := time.Now(); now.Sub(next) > interval {
			next = now
		}
	}
}

// writer starts one POST every WriteEvery, each on its own goroutine, until stop ends.
func (l *Load) writer(ctx, stop context.Context) {
	sem := make(chan struct{}, maxWritesInFlight)
	t := time.NewTicker(l.opt.WriteEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		name := fmt.Sprintf("%s-%06d", l.opt.NamePrefix, n)
		select {
		case sem <- struct{}{}:
		default:
			l.add(Request{Op: OpWrite, Start: time.Now(), Outcome: Failed, Name: name,
				Err: fmt.Sprintf("not sent: %d writes already wait for an answer", maxWritesInFlight)})
			continue
		}
		l.wg.Go(func() {
			defer func() { <-sem }()
			body, _ := json.Marshal(map[string]string{"name": name})
			r := l.do(ctx, OpWrite, l.opt.WriteURL, body)
			r.Name = name
			if ctx.Err() == nil {
				l.add(r)
			}
		})
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// do makes one request and classifies its answer.
func (l *Load) do(ctx context.Context, op Op, target string, body []byte) Request {
	method, client := http.MethodGet, l.read
	var rd io.Reader
	if op == OpWrite {
		method, client, rd = http.MethodPost, l.write, bytes.NewReader(body)
	}
	r := Request{Op: op, Start: time.Now(), Outcome: Failed}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	if op == OpWrite {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		r.Latency = time.Since(r.Start)
		r.Err = err.Error()
		return r
	}
	// Small answers: read them whole, so a keep-alive connection can be reused and a refusal recognised.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r.Latency = time.Since(r.Start)
	r.Status = resp.StatusCode
	r.Upstream = resp.Header.Get(l.opt.UpstreamHeader)
	r.Version = resp.Header.Get(l.opt.VersionHeader)
	switch {
	case err != nil:
		r.Err = "reading the answer: " + err.Error()
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.Outcome = OK
	case op == OpWrite && resp.StatusCode == http.StatusServiceUnavailable && l.opt.AnyRefusal:
		r.Outcome = Refused
	case op == OpWrite && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" &&
		bytes.Contains(b, []byte(`"read_only"`)):
		r.Outcome = Refused
	default:
		r.Err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, firstLine(b))
	}
	return r
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func (l *Load) add(r Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	if r.Op == OpWrite && r.Outcome == OK {
		l.acked = append(l.acked, r.Name)
	}
	l.mu.Unlock()
}

// Requests returns a copy of every request recorded so far, in the order they started.
func (l *Load) Requests() []Request {
	l.mu.Lock()
	out := append([]Request(nil), l.reqs...)
	l.mu.Unlock()
	sortRequests(out)
	return out
}

// Stop ends the load: no new request starts, and those in flight finish (within the timeout). It
// returns everything recorded. Calling it again returns the same report.
func (l *Load) Stop() *LoadReport {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.report == nil {
		reqs := append([]Request(nil), l.reqs...)
		sortRequests(reqs)
		l.report = &LoadReport{Start: l.start, End: time.Now(), Options: l.opt, Requests: reqs, Acked: append([]string(nil), l.acked...)}
	}
	l.read.CloseIdleConnections()
	l.write.CloseIdleConnections()
	return l.report
}

func sortRequests(rs []Request) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Start.Before(rs[j].Start) })
}

// LoadReport is everything one load run recorded.
type LoadReport struct {
	Start, End time.Time
	Options    LoadOptions
	// Requests in the order they started.
	Requests []Request
	// Acked are the names of the writes answered with 2xx: each must be in the database.
	Acked []string
}
