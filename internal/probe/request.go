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
	if p.read.invalid != "" {
		r.err = fmt.Sprintf("bad probe URL %s: %s", p.read.shown, p.read.invalid)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.read.raw, nil)
	if err != nil {
		r.err = fmt.Sprintf("bad probe URL %s: %s", p.read.shown, p.read.errText(err))
		return r
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		r.latency = time.Since(start)
		r.err = reason(err, timeout, p.read)
		return r
	}
	var body []byte
	if p.version.needsBody() {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxVersionBody))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	resp.Body.Close()
	r.latency = time.Since(start)
	r.status = resp.StatusCode
	r.upstream = lastUpstream(resp.Header.Get(p.upstreamHeader))
	r.version, _ = p.version.read(resp.Header, body)
	switch {
	case err != nil:
		r.err = "reading the body: " + reason(err, timeout, p.read)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.write.raw, strings.NewReader(body))
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
	// The start of the body is enough to recognise a refusal; the rest is drained for keep-alive.
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusal))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	resp.Body.Close()
	switch {
	case err != nil:
	case success(resp.StatusCode):
		w.outcome = writeOK
	case p.refusal.refused(resp.StatusCode, head):
		// The database is read-only for the upgrade and the application says so: by default any
		// 503, which is how most applications refuse; probe.refused narrows it.
		w.outcome = writeRefused
	}
	return w
}

// maxRefusal is how much of a write's answer probe.refused.body is matched against.
const maxRefusal = 64 << 10

// maxVersionBody is how much of an answer is read for a version in its body.
const maxVersionBody = 256 << 10

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

// reason shortens a client error to what happened (the caller names the URL), with the credentials
// of t scrubbed from it.
func reason(err error, timeout time.Duration, t target) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return t.errText(err)
}
