package postgres

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgpassfile"
)

// mask replaces every secret Pitstop hides.
const mask = "xxxxx"

// secretKeys are the connection parameters whose values are never shown.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// redact returns conn with every password (and sslpassword) replaced by xxxxx, for use in messages.
// It understands both libpq syntaxes: URLs (postgres://user:secret@host/db?password=…) and
// key=value lists (host=h password='it\'s secret'). On input it cannot parse it errs on the side of
// hiding too much: the rest of the string after the point of confusion is masked.
func redact(conn string) string {
	var b strings.Builder
	for _, p := range split(conn) {
		if p.secret {
			b.WriteString(mask)
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// secrets returns the secret values conn spells out, as written and unquoted or unescaped, so
// that messages quoting any part of conn (a parser's error, say) can be scrubbed of them.
func secrets(conn string) []string {
	var out []string
	for _, p := range split(conn) {
		if !p.secret || p.text == "" {
			continue
		}
		out = append(out, p.text)
		v := strings.TrimSuffix(strings.TrimPrefix(p.text, "'"), "'")
		v = strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(v)
		if u, err := url.PathUnescape(v); err == nil {
			out = append(out, u)
		}
		out = append(out, v)
		// A parser may quote a fragment of a malformed value: hide each word of it too.
		for _, w := range strings.Fields(v) {
			if len(w) >= 4 {
				out = append(out, w)
			}
		}
	}
	return out
}

// part is a piece of a connection string; secret parts are never shown.
type part struct {
	text   string
	secret bool
	key    string // for a value in a key=value string, its key
}

func split(conn string) []part {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		return splitURL(conn)
	}
	return splitKV(conn)
}

func splitURL(conn string) []part {
	scheme, rest, _ := strings.Cut(conn, "://")
	out := []part{{text: scheme + "://"}}
	// libpq ends the user info at the first '@' before any '/'; taking the last such '@' also hides
	// a password that holds an unescaped '@' (or '?', which does not end the user info).
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, pw, hasPassword := strings.Cut(rest[:at], ":")
		out = append(out, part{text: user})
		if hasPassword {
			out = append(out, part{text: ":"}, part{text: pw, secret: true})
		}
		out = append(out, part{text: "@"})
		rest = rest[at+1:]
	} else if path, _, _ := strings.Cut(rest, "?"); strings.Contains(path, "@") {
		// An '@' after a '/' means a password with an unescaped '/': libpq rejects the string, and
		// everything before that '@' may be secret.
		at := strings.LastIndexByte(path, '@')
		out = append(out, part{text: rest[:at], secret: true}, part{text: "@"})
		rest = rest[at+1:]
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	out = append(out, part{text: rest})
	if !hasQuery {
		return out
	}
	out = append(out, part{text: "?"})
	for i, p := range strings.Split(query, "&") {
		if i > 0 {
			out = append(out, part{text: "&"})
		}
		k, v, hasValue := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || (hasValue && secretKeys[strings.ToLower(key)]) {
			out = append(out, part{text: k + "="}, part{text: v, secret: true})
			continue
		}
		out = append(out, part{text: p})
	}
	return out
}

// splitKV walks a key=value connection string the way libpq does: spaces around '=' are allowed,
// a value is either bare (ends at white space) or single-quoted, and a backslash escapes the next
// character in both.
func splitKV(conn string) []part {
	var out []part
	s := conn
	for {
		n := len(s) - len(strings.TrimLeft(s, " \t\n\r\f\v"))
		out = append(out, part{text: s[:n]})
		s = s[n:]
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			// A key without a value: libpq rejects the string; show nothing more of it.
			return append(out, part{text: s, secret: true})
		}
		key := strings.TrimSpace(s[:eq])
		out = append(out, part{text: s[:eq+1]})
		s = s[eq+1:]
		n = len(s) - len(strings.TrimLeft(s, " \t\n\r\f\v"))
		out = append(out, part{text: s[:n]})
		s = s[n:]
		end, ok := valueEnd(s)
		if !ok {
			return append(out, part{text: s, secret: true})
		}
		out = append(out, part{text: s[:end], secret: secretKeys[strings.ToLower(key)], key: key})
		s = s[end:]
	}
}

// valueEnd returns the length of the value at the start of s, or false for an unterminated quote.
func valueEnd(s string) (int, bool) {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1, true
			}
		}
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ' ', '\t', '\n', '\r', '\f', '\v':
			return i, true
		}
	}
	return len(s), true
}

// scrubbed is an error whose text had secrets removed; Unwrap still reaches the original so that
// errors.Is and errors.As work.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// hide returns s with every occurrence of each non-empty secret masked.
func hide(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, mask)
		}
	}
	return s
}

// envSecrets returns the passwords libpq's environment may supply for conn when conn itself names
// none: PGPASSWORD, and every password in the passfile (conn's passfile=, else PGPASSFILE, else
// ~/.pgpass). They are for scrubbing texts made before a configuration exists, so it cannot be
// known which entry would have been used: all of them are hidden.
func envSecrets(conn string) []string {
	out := []string{os.Getenv("PGPASSWORD")}
	paths := []string{os.Getenv("PGPASSFILE")}
	paths = append(paths, passfiles(conn)...)
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".pgpass"))
	}
	for _, path := range paths {
		if path == "" {
			continue
		}
		pf, err := pgpassfile.ReadPassfile(path)
		if err != nil {
			continue
		}
		for _, e := range pf.Entries {
			out = append(out, e.Password)
		}
	}
	return out
}

// passfiles returns the values of passfile= in conn, as libpq reads them.
func passfiles(conn string) []string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		// Not url.Parse: it refuses several hosts, and the string may be malformed anyway.
		_, query, _ := strings.Cut(conn, "?")
		q, _ := url.ParseQuery(query)
		return q["passfile"]
	}
	var out []string
	for _, p := range splitKV(conn) {
		if p.key == "passfile" {
			out = append(out, unquoteKV(p.text))
		}
	}
	return out
}

// unquoteKV returns a key=value string's value as libpq reads it: without its quotes, each
// backslash escape replaced by the character it escapes.
func unquoteKV(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// scrub returns err with every occurrence of each non-empty secret masked in its text.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, mask)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}
