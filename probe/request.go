package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const userAgent = "pitstop-probe"

// maxBody is how much of a response body is read (and thrown away) so the connection can be reused.
const maxBody = 1 << 20

// get makes one request through the balancer.
func (p *Prober) get(ctx context.Context, seq uint64, start time.Time, timeout time.Duration) record {
	r := record{seq: seq, start: start}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.inv.Probe.URL, nil)
	if err != nil {
		r.err = fmt.Sprintf("bad probe URL %q: %v", p.inv.Probe.URL, err)
		return r
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		r.latency = time.Since(start)
		r.err = reason(err, timeout)
		return r
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	r.latency = time.Since(start)
	r.status = resp.StatusCode
	r.upstream = lastUpstream(resp.Header.Get(p.upstreamHeader))
	r.version = resp.Header.Get(p.versionHeader)
	switch {
	case err != nil:
		r.err = "reading the body: " + reason(err, timeout)
	case !success(resp.StatusCode):
		r.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	default:
		r.ok = true
	}
	return r
}

// post makes the n-th probe write through the balancer.
func (p *Prober) post(ctx context.Context, n uint64) writeRecord {
	w := writeRecord{start: time.Now(), outcome: writeFailed}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body := fmt.Sprintf(`{"probe":"pitstop","n":%d,"at":%q}`, n, w.start.UTC().Format(time.RFC3339Nano))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.inv.Probe.WriteURL, strings.NewReader(body))
	if err != nil {
		return w
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Content-Type", "application/json")
	// Go's client retries a request on a kept-alive connection that the server closed meanwhile only
	// when the request is idempotent; this header makes the POST count as such. Without it, nginx
	// closing idle connections at a reload would be counted as a failed write no user would see.
	req.Header.Set("Idempotency-Key", fmt.Sprintf("pitstop-probe-%d-%d", w.start.UnixNano(), n))
	resp, err := p.client.Do(req)
	if err != nil {
		return w
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	switch {
	case success(resp.StatusCode):
		w.outcome = writeOK
	case resp.StatusCode == http.StatusServiceUnavailable:
		w.outcome = writeRefused
	}
	return w
}

// success is the probe's idea of a good answer: 2xx or 3xx (redirects are not followed).
func success(status int) bool { return status >= 200 && status < 400 }

// lastUpstream picks the upstream that gave the answer out of nginx's $upstream_addr, which lists
// every upstream tried ("a, b") and, after an internal redirect, each group ("a, b : c").
func lastUpstream(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndex(v, ","); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndex(v, " : "); i >= 0 {
		v = v[i+3:]
	}
	return strings.TrimSpace(v)
}

// reason shortens a client error to what happened.
func reason(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
