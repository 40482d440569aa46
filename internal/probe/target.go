package probe

import (
	"errors"
	"net/url"
	"strings"
)

// target is a URL the probe requests. Its text as configured may carry user:password@ for the
// balancer's basic auth, so it goes to net/http alone; every message shows shown, where the password
// is replaced (url.URL.Redacted), and passes through scrub.
type target struct {
	raw   string
	shown string
	// secrets are pairs: a form of raw's credentials that a message might contain (the user:password
	// as written, as url.URL.String writes it, decoded; the password alone), then its replacement.
	// Empty when raw has no password.
	secrets []string
	// invalid says why raw does not parse, in words safe to show; "" when it parses.
	invalid string
}

// redactedUserinfo stands for a userinfo that cannot be parsed, so not even its user name is shown.
const redactedUserinfo = "xxxxx"

// newTarget parses raw once and keeps the forms of it that are safe to show.
func newTarget(raw string) target {
	t := target{raw: raw, shown: raw}
	// start is where a userinfo would begin; loose runs from there to the last "@" anywhere, the most
	// that could be a userinfo when the parser and the writer of the URL disagree.
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	loose := ""
	if j := strings.LastIndex(raw, "@"); j >= start {
		loose = raw[start : j+1]
	}
	u, err := url.Parse(raw)
	switch {
	case err == nil && u.User != nil:
		t.shown = u.Redacted()
		if pass, ok := u.User.Password(); ok {
			user := u.User.Username()
			safe := url.UserPassword(user, "xxxxx").String()
			authority := raw[start:]
			if i := strings.IndexAny(authority, "/?#"); i >= 0 {
				authority = authority[:i]
			}
			written := authority[:max(strings.LastIndex(authority, "@"), 0)]
			t.hide(written, safe)                                   // as written
			t.hide(u.User.String(), safe)                           // as url.URL.String writes it
			t.hide(user+":"+pass, url.User(user).String()+":xxxxx") // decoded
			if len(pass) >= minHidden {
				t.hide(written[strings.Index(written, ":")+1:], "xxxxx")
				t.hide(pass, "xxxxx")
			}
		}
	case loose != "" && (err != nil || strings.Contains(loose, ":")):
		// No userinfo parsed, yet the text has something like one ("http://ops:pa/ss@lb/" parses as
		// host ops, port pa): hide all of it rather than guess.
		t.shown = raw[:start] + redactedUserinfo + raw[start+len(loose)-1:]
		userinfo := loose[:len(loose)-1]
		t.hide(userinfo, redactedUserinfo)
		if i := strings.Index(userinfo, ":"); i >= 0 && len(userinfo)-i-1 >= minHidden {
			t.hide(userinfo[i+1:], "xxxxx")
		}
	}
	switch {
	case err == nil:
	case loose != "":
		// An escape error quotes three characters of what may be the password.
		t.invalid = "it does not parse as a URL (the parser's words are not shown: they may quote the password)"
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		t.invalid = "it does not parse as a URL: " + err.Error()
	}
	return t
}

// minHidden is the shortest password scrub replaces where it stands alone, outside a user:password
// pair: a shorter one would turn digits of latencies and ports into xxxxx.
const minHidden = 4

// hide has scrub replace secret (if not empty) with safe. Callers give the longer forms of a
// secret first: scrub replaces in that order.
func (t *target) hide(secret, safe string) {
	if secret != "" {
		t.secrets = append(t.secrets, secret, safe)
	}
}

// scrub returns s with every appearance of the target's credentials replaced.
func (t target) scrub(s string) string {
	for i := 0; i+1 < len(t.secrets); i += 2 {
		s = strings.ReplaceAll(s, t.secrets[i], t.secrets[i+1])
	}
	return s
}

// errText is err's message with the credentials of t scrubbed, including the URL that net/http's
// *url.Error carries (Go's client already masks the password there, url.Parse does not).
func (t target) errText(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = newTarget(ue.URL).shown
		}
	}
	return t.scrub(err.Error())
}
