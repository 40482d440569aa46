package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Check fetches the inventory's verify path (upgrade.verify.path) from one app host directly,
// bypassing the balancer. The result, OK only for a 2xx answer, also becomes the host's latest
// check in Stats. The error is for a host that cannot be checked at all; a host that does not
// answer well is a HostCheck with Err set.
func (p *Prober) Check(ctx context.Context, host string) (steps.HostCheck, error) {
	h := p.inv.Host(host)
	if h == nil {
		return steps.HostCheck{Host: host}, fmt.Errorf("check %q: no such host in inventory %s", host, p.inv.Source)
	}
	if h.Serve == "" {
		return steps.HostCheck{Host: host}, fmt.Errorf("check %s: the host has no serve address (hosts.%s.serve), so it cannot be checked directly", host, host)
	}
	c := p.check(ctx, host, h.Serve)
	if ctx.Err() == nil {
		p.mu.Lock()
		p.checks[host] = c
		p.mu.Unlock()
	}
	return c, nil
}

// check makes one direct request to serve.
func (p *Prober) check(ctx context.Context, host, serve string) steps.HostCheck {
	c := steps.HostCheck{Host: host}
	path := p.inv.Upgrade.Verify.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// A serve address is host:port, but the URL goes through the same redaction as the probe's own
	// in case someone wrote credentials into it.
	u := newTarget("http://" + serve + path)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.raw, nil)
	if err != nil {
		c.Err = fmt.Sprintf("bad check URL %s: %s", u.shown, u.errText(err))
		return c
	}
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		c.Latency = time.Since(start)
		c.Err = "GET " + u.shown + ": " + reason(err, p.timeout, u)
		return c
	}
	var body []byte
	if p.version.needsBody() {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxVersionBody))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	c.Latency = time.Since(start)
	c.Status = resp.StatusCode
	c.Version, c.VersionNote = p.version.read(resp.Header, body)
	if c.VersionNote != "" {
		c.VersionNote = "GET " + u.shown + ": " + c.VersionNote
	}
	c.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	if !c.OK {
		c.Err = fmt.Sprintf("GET %s: HTTP %d", u.shown, resp.StatusCode)
	}
	return c
}

// hostLoop checks every app host every HostEvery, at most HostParallel at once, and waits for a
// round to finish before the next, so a hanging host never piles up requests.
func (p *Prober) hostLoop(ctx context.Context) {
	defer p.wg.Done()
	for {
		sem := make(chan struct{}, p.opt.HostParallel)
		var wg sync.WaitGroup
		for _, host := range p.hosts {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p.Check(ctx, host)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.opt.HostEvery):
		}
	}
}
