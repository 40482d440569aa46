// Package probe measures what users see through the balancer: a steady stream of GET requests (and
// optional POSTs) to the inventory's probe URL, each recorded with its outcome, latency, the upstream
// that served it and the application version, plus a direct check of every app host. It implements
// steps.Probe, and its ServedBy proves a balancer switch (nginx.Verifier).
package probe

import (
	"context"
	"math"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var _ steps.Probe = (*Prober)(nil)

// Options tune a Prober. The zero value uses the inventory's settings.
type Options struct {
	// Rate overrides inv.Probe.Rate: requests per second through the balancer.
	Rate int
	// Client makes every request. Nil builds one that ignores proxy settings, does not follow
	// redirects (a 3xx answer counts as success) and keeps connections alive like a browser.
	Client *http.Client
	// HostEvery is how often every app host is checked directly (default 1s; negative: never).
	HostEvery time.Duration
	// HostParallel bounds the direct checks in flight at once (default 8).
	HostParallel int
	// Keep is how much history the Prober holds (default 5 minutes); memory is fixed by it and Rate.
	Keep time.Duration
	// VerifyRequests is how many consecutive requests ServedBy needs (default 5).
	VerifyRequests int
	// VerifySpan is how long those requests must span at least, first start to last (default 250ms).
	VerifySpan time.Duration
}

// maxRate caps the request rate: the probe measures, it is not a load test.
const maxRate = 1000

// Prober probes one inventory's application. Create it with New, run it with Start and Stop. All
// methods are safe for concurrent use.
type Prober struct {
	inv    *inventory.Inventory
	opt    Options
	client *http.Client
	// timeout and upstreamHeader are the inventory's, or their defaults.
	timeout        time.Duration
	upstreamHeader string
	// version reads the application's version from an answer (upgrade.verify's source); refusal
	// tells a refused write from a failed one (probe.refused).
	version versionReader
	refusal refusalRule
	// read and write are probe.url and probe.write_url, parsed once; messages show only their
	// redacted forms, since either may carry a password.
	read, write target
	// sides maps an upstream address (as nginx's $upstream_addr gives it) to its side.
	sides map[string]inventory.Side
	// hosts are the app hosts with a serve address, sorted.
	hosts []string

	mu     sync.Mutex
	reads  *ring[record]
	writes *ring[writeRecord]
	checks map[string]steps.HostCheck
	seq    uint64 // sequence number of the next request through the balancer
	writeN uint64
	// totals counts every request since New; refusedSince starts the current run of refused
	// writes (zero when the newest write was not refused), lastRefused is its newest.
	totals                    steps.ProbeTotals
	refusedSince, lastRefused time.Time
	ctx                       context.Context // of the running probe; nil when stopped
	cancel                    context.CancelFunc
	wg                        sync.WaitGroup
	// life serialises Start and Stop, so a Start cannot add to wg while Stop waits on it.
	life sync.Mutex
}

// record is one request through the balancer.
type record struct {
	seq      uint64
	start    time.Time
	latency  time.Duration
	ok       bool
	status   int
	upstream string
	version  string
	err      string
}

// writeOutcome classifies a probe POST.
type writeOutcome uint8

const (
	writeOK writeOutcome = iota
	writeRefused
	writeFailed
)

// writeRecord is one POST through the balancer.
type writeRecord struct {
	start   time.Time
	outcome writeOutcome
}

// New returns a stopped Prober for inv.
func New(inv *inventory.Inventory, opt Options) *Prober {
	if opt.Rate <= 0 {
		opt.Rate = inv.Probe.Rate
	}
	if opt.Rate <= 0 {
		opt.Rate = 20
	}
	opt.Rate = min(opt.Rate, maxRate)
	if opt.HostEvery == 0 {
		opt.HostEvery = time.Second
	}
	if opt.HostParallel <= 0 {
		opt.HostParallel = 8
	}
	if opt.Keep <= 0 {
		opt.Keep = 5 * time.Minute
	}
	if opt.VerifyRequests <= 0 {
		opt.VerifyRequests = 5
	}
	if opt.VerifySpan <= 0 {
		opt.VerifySpan = 250 * time.Millisecond
	}
	p := &Prober{inv: inv, opt: opt, client: opt.Client, checks: map[string]steps.HostCheck{},
		timeout: inv.Probe.Timeout, upstreamHeader: inv.Probe.UpstreamHeader,
		version: newVersionReader(inv), refusal: newRefusalRule(inv),
		read: newTarget(inv.Probe.URL), write: newTarget(inv.Probe.WriteURL)}
	if p.timeout <= 0 {
		p.timeout = 2 * time.Second
	}
	if p.upstreamHeader == "" {
		p.upstreamHeader = "X-Upstream"
	}
	if p.client == nil {
		p.client = defaultClient(opt.Rate)
	}
	secs := opt.Keep.Seconds()
	p.reads = newRing[record](int(math.Ceil(secs*float64(opt.Rate))) + opt.Rate)
	writeCap := 1
	if inv.Probe.WriteURL != "" && inv.Probe.WriteEvery > 0 {
		writeCap = int(opt.Keep/inv.Probe.WriteEvery) + 2
	}
	p.writes = newRing[writeRecord](writeCap)
	p.sides = sideAddrs(inv)
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, app := range inv.Sides.Get(side).Apps {
			if h := inv.Host(app); h != nil && h.Serve != "" {
				p.hosts = append(p.hosts, app)
			}
		}
	}
	sort.Strings(p.hosts)
	return p
}

func defaultClient(rate int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the probe goes to the balancer itself, never through $HTTP_PROXY
	tr.MaxIdleConnsPerHost = max(rate, 8)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sideAddrs maps every app host's serve address to its side; a serve address naming a host name is
// also entered under each of its IP addresses, since nginx reports the address it connected to.
func sideAddrs(inv *inventory.Inventory) map[string]inventory.Side {
	m := map[string]inventory.Side{}
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		for _, app := range inv.Sides.Get(side).Apps {
			h := inv.Host(app)
			if h == nil || h.Serve == "" {
				continue
			}
			m[h.Serve] = side
			host, port, err := net.SplitHostPort(h.Serve)
			if err != nil || net.ParseIP(host) != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ips, err := net.DefaultResolver.LookupHost(ctx, host)
			cancel()
			if err == nil {
				for _, ip := range ips {
					m[net.JoinHostPort(ip, port)] = side
				}
			}
		}
	}
	return m
}

// Start begins probing in the background until Stop is called or ctx ends. Starting a running
// Prober does nothing.
func (p *Prober) Start(ctx context.Context) {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx != nil && p.ctx.Err() == nil {
		return
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	if p.read.raw != "" {
		p.wg.Add(1)
		go p.readLoop(p.ctx)
	}
	if p.write.raw != "" && p.inv.Probe.WriteEvery > 0 {
		p.wg.Add(1)
		go p.writeLoop(p.ctx)
	}
	if p.opt.HostEvery > 0 && len(p.hosts) > 0 {
		p.wg.Add(1)
		go p.hostLoop(p.ctx)
	}
}

// Stop ends probing and waits until every request in flight has finished. The recorded history
// stays readable.
func (p *Prober) Stop() {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	if p.cancel != nil {
		p.cancel()
	}
	p.ctx, p.cancel = nil, nil
	p.mu.Unlock()
	p.wg.Wait()
}

// running returns the context of the running probe, or nil.
func (p *Prober) running() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil || p.ctx.Err() != nil {
		return nil
	}
	return p.ctx
}

// readLoop starts one request every 1/Rate seconds, each in its own goroutine, so a stalled balancer
// shows up as many failed requests, as it would for users, rather than as one slow one.
func (p *Prober) readLoop(ctx context.Context) {
	defer p.wg.Done()
	timeout := p.timeout
	inFlight := make(chan struct{}, min(p.opt.Rate*int(math.Ceil(timeout.Seconds()))+1, 5000))
	t := time.NewTicker(time.Second / time.Duration(p.opt.Rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seq := p.nextSeq()
		start := time.Now()
		select {
		case inFlight <- struct{}{}:
		default:
			p.addRead(record{seq: seq, start: start, err: "too many probe requests in flight"})
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-inFlight }()
			r := p.get(ctx, seq, start, timeout)
			if ctx.Err() == nil { // a request cut short by Stop says nothing about the balancer
				p.addRead(r)
			}
		}()
	}
}

// nextSeq numbers a new request through the balancer.
func (p *Prober) nextSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return p.seq - 1
}

func (p *Prober) addRead(r record) {
	p.mu.Lock()
	p.reads.add(r)
	p.totals.Reads++
	if !r.ok {
		p.totals.FailedReads++
	}
	p.mu.Unlock()
}

// addWrite records a write; writes come one at a time, in order. Callers hold p.mu.
func (p *Prober) addWrite(w writeRecord) {
	p.writes.add(w)
	t := &p.totals
	t.Writes++
	switch w.outcome {
	case writeRefused:
		t.RefusedWrites++
		if p.refusedSince.IsZero() {
			p.refusedSince = w.start
		}
		p.lastRefused = w.start
		return
	case writeFailed:
		t.FailedWrites++
	}
	if !p.refusedSince.IsZero() {
		t.RefusedFor += w.start.Sub(p.refusedSince)
		p.refusedSince = time.Time{}
	}
}

// currentTotals is totals with the run of refused writes still under way counted to its newest.
// Callers hold p.mu.
func (p *Prober) currentTotals() steps.ProbeTotals {
	t := p.totals
	if !p.refusedSince.IsZero() {
		t.RefusedFor += p.lastRefused.Sub(p.refusedSince)
	}
	return t
}

// writeLoop makes one POST every WriteEvery, one at a time.
func (p *Prober) writeLoop(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.inv.Probe.WriteEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		n := p.writeN
		p.writeN++
		p.mu.Unlock()
		w := p.post(ctx, n)
		if ctx.Err() == nil {
			p.mu.Lock()
			p.addWrite(w)
			p.mu.Unlock()
		}
	}
}
