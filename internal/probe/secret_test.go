package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Ports of this file's tests (see probe_test.go for the others).
const (
	portSecret       = 18540
	portSecretClosed = 18541
)

const (
	secretIP = "127.0.0.24"
	password = "S3cretPw"
)

// secretInventory probes base (a URL without its scheme and credentials) as ops:S3cretPw, with
// app-prod served at prodServe and app-backup at a closed port.
func secretInventory(base, prodServe string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Source: "test",
		Probe: inventory.Probe{URL: "http://ops:" + password + "@" + base + "/",
			WriteURL: "http://ops:" + password + "@" + base + "/probe-write", WriteEvery: 50 * time.Millisecond, Timeout: time.Second},
		Hosts: map[string]*inventory.Host{
			"app-prod":   {Serve: prodServe},
			"app-backup": {Serve: fmt.Sprintf("%s:%d", secretIP, portSecretClosed)},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"app-prod"}},
			Backup:     inventory.SideSpec{Apps: []string{"app-backup"}},
		},
		Upgrade: inventory.Upgrade{Verify: inventory.Verify{Path: "/health"}},
	}
	inv.Defaults()
	return inv
}

// noPassword fails the test if any of texts shows the password.
func noPassword(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, password) {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}
}

// everything is every text the probe gives out: ServedBy's account and errors, the stats (with
// their host checks) and every recorded request's error.
func everything(p *Prober, served string, err error) []string {
	out := []string{served, fmt.Sprintf("%+v", p.Stats(0))}
	if err != nil {
		out = append(out, err.Error())
	}
	for _, r := range p.since(0) {
		out = append(out, r.err, p.outcome(r))
	}
	return out
}

// TestPasswordNeverShown: a probe URL with user:password works (the credentials reach the server as
// basic auth), and no message, error or stat shows the password, whether requests succeed, fail to
// connect, or fail with an error that quotes the URL.
func TestPasswordNeverShown(t *testing.T) {
	addr := fmt.Sprintf("%s:%d", secretIP, portSecret)
	ctx := context.Background()

	t.Run("served", func(t *testing.T) {
		app := StartFakeApp(t, addr, addr)
		p := New(secretInventory(addr, addr), Options{Rate: 50, HostEvery: 50 * time.Millisecond})
		p.Start(ctx)
		t.Cleanup(p.Stop)
		served, err := p.ServedBy(ctx, inventory.Production, 3*time.Second)
		if err != nil {
			t.Fatalf("ServedBy(production): %v", err)
		}
		if want := "through http://ops:xxxxx@" + addr + "/ "; !strings.Contains(served, want) {
			t.Errorf("ServedBy's account does not name the URL as %q: %s", want, served)
		}
		_, notBackup := p.ServedBy(ctx, inventory.Backup, 300*time.Millisecond)
		if notBackup == nil {
			t.Errorf("ServedBy(backup) while production serves: no error")
		}
		deadline := time.Now().Add(3 * time.Second)
		for p.Stats(0).Writes < 3 || len(p.Stats(0).Hosts) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("no 3 writes and 2 host checks within 3s: %+v", p.Stats(0))
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Stop()
		st := p.Stats(0)
		if st.Failed != 0 || st.WritesFailed != 0 || st.WritesRefused != 0 {
			t.Errorf("%d of %d reads and %d+%d of %d writes failed/refused; want none", st.Failed, st.Requests, st.WritesFailed, st.WritesRefused, st.Writes)
		}
		seen := app.Seen()
		// Requests cut short by Stop are not recorded, though the server may have seen them.
		if seen["GET ops:"+password] < st.Requests || seen["POST ops:"+password] < st.Writes || seen["POST -"] != 0 || seen["GET -"] == 0 {
			t.Errorf("the server saw %v; want at least %d GETs and %d POSTs as ops:%s, the host checks as GET -", seen, st.Requests, st.Writes, password)
		}
		noPassword(t, "a served probe", everything(p, served, notBackup)...)
	})

	t.Run("closed port", func(t *testing.T) {
		closed := fmt.Sprintf("%s:%d", secretIP, portSecretClosed)
		p := New(secretInventory(closed, closed), Options{Rate: 50, HostEvery: 50 * time.Millisecond})
		p.Start(ctx)
		t.Cleanup(p.Stop)
		_, err := p.ServedBy(ctx, inventory.Production, 500*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "http://ops:xxxxx@"+closed+"/") {
			t.Errorf("ServedBy(production) with nothing listening: %v; want connection refused through http://ops:xxxxx@%s/", err, closed)
		}
		c, _ := p.Check(ctx, "app-prod")
		if c.OK || !strings.Contains(c.Err, "connection refused") {
			t.Errorf("Check(app-prod) with nothing listening = %+v", c)
		}
		p.Stop()
		if st := p.Stats(0); st.Requests == 0 || st.Failed != st.Requests {
			t.Errorf("%d of %d reads failed, want all", st.Failed, st.Requests)
		}
		noPassword(t, "a probe of a closed port", everything(p, "", err)...)
	})

	t.Run("error quoting the URL", func(t *testing.T) {
		// A transport whose error quotes the request's URL in full, password and all, as a proxy or
		// a wrapping library might.
		quoting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("no route to %s (via %q)", r.URL.String(), r.URL.User.String())
		})}
		p := New(secretInventory(addr, addr), Options{Rate: 50, HostEvery: -1, Client: quoting})
		r := p.get(ctx, 0, time.Now(), time.Second)
		if r.ok || !strings.Contains(r.err, "no route to http://ops:xxxxx@"+addr+"/") {
			t.Errorf("request through a transport quoting the URL: %q; want its error with the URL redacted", r.err)
		}
		if w := p.post(ctx, 0); w.outcome != writeFailed {
			t.Errorf("write through a failing transport: outcome %d, want failed", w.outcome)
		}
		p.addRead(r)
		p.mu.Lock()
		p.seq = 1
		p.mu.Unlock()
		noPassword(t, "a transport error", everything(p, "", nil)...)
	})

	t.Run("unparsable URL", func(t *testing.T) {
		inv := secretInventory(addr, addr)
		inv.Probe.URL = "http://ops:" + password + "%zz@" + addr + "/"
		p := New(inv, Options{Rate: 50, HostEvery: -1})
		p.Start(ctx)
		t.Cleanup(p.Stop)
		_, err := p.ServedBy(ctx, inventory.Production, 100*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "http://xxxxx@"+addr+"/ is unusable") {
			t.Errorf("ServedBy with an unparsable probe.url: %v", err)
		}
		r := p.get(ctx, 0, time.Now(), time.Second)
		if !strings.Contains(r.err, "bad probe URL http://xxxxx@"+addr+"/") {
			t.Errorf("request to an unparsable URL: %q", r.err)
		}
		if err == nil {
			return
		}
		noPassword(t, "an unparsable URL", r.err, err.Error())
		if strings.Contains(err.Error()+r.err, "%zz") {
			t.Errorf("the parser's words quote the URL's userinfo: %v / %s", err, r.err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTargetRedacts: the shown form of a URL and scrub hide the password however it is written.
func TestTargetRedacts(t *testing.T) {
	cases := []struct {
		raw, shown string
		messages   []string // each must lose every secret under scrub
		secret     string
	}{
		{"http://ops:S3cretPw@lb/x", "http://ops:xxxxx@lb/x", []string{`Get "http://ops:S3cretPw@lb/x": refused`, "via ops:S3cretPw@lb"}, "S3cretPw"},
		{"https://ops:S3cret%40Pw@lb:8443/", "https://ops:xxxxx@lb:8443/", []string{"https://ops:S3cret%40Pw@lb:8443/", "ops:S3cret%40Pw@"}, "S3cret"},
		{"http://ops:S3cret@Pw@lb/", "http://ops:xxxxx@lb/", []string{"http://ops:S3cret@Pw@lb/", "http://ops:S3cret%40Pw@lb/"}, "S3cret"},
		{"http://ops:S3cret%zz@lb/", "http://xxxxx@lb/", []string{"http://ops:S3cret%zz@lb/"}, "S3cret"},
		{"http://ops:pa/ss@lb/", "http://xxxxx@lb/", []string{"GET http://ops:pa/ss@lb/"}, "pa/ss"},
		{"ops:S3cretPw@lb:80/", "xxxxx@lb:80/", []string{"ops:S3cretPw@lb:80/"}, "S3cretPw"},
		{"http://ops@lb/", "http://ops@lb/", nil, ""},
		{"http://lb/users/@me", "http://lb/users/@me", nil, ""},
		{"http://lb/", "http://lb/", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			tg := newTarget(c.raw)
			if tg.shown != c.shown {
				t.Errorf("shown %q, want %q", tg.shown, c.shown)
			}
			for _, m := range c.messages {
				if s := tg.scrub(m); strings.Contains(s, c.secret) {
					t.Errorf("scrub(%q) = %q still shows %q", m, s, c.secret)
				}
			}
			if c.secret == "" && tg.scrub("GET "+c.raw) != "GET "+c.raw {
				t.Errorf("scrub changed a URL without a password: %q", tg.scrub("GET "+c.raw))
			}
		})
	}
	t.Run("url.Error", func(t *testing.T) {
		tg := newTarget("http://ops:S3cretPw@lb/")
		_, err := http.NewRequest(http.MethodGet, "http://ops:S3cretPw@lb:x/", nil)
		if err == nil {
			t.Fatal("a URL with port x parsed")
		}
		wrapped := fmt.Errorf("probe: %w", err)
		if s := tg.errText(wrapped); strings.Contains(s, "S3cretPw") || !strings.Contains(s, "xxxxx@lb:x/") {
			t.Errorf("errText(%v) = %q; want the URL redacted", err, s)
		}
		var ue *url.Error
		if !errors.As(wrapped, &ue) || strings.Contains(ue.URL, "S3cretPw") {
			t.Errorf("after errText the *url.Error in the chain still carries the password: %#v", ue)
		}
	})
}
