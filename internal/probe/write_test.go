package probe

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Ports of this file's tests (see probe_test.go for the others).
const (
	portPost       = 18550
	portPostClosed = 18551
)

// TestPostClassifiesWrites: a write is refused only when the application says its database is
// read-only (503, Retry-After and its "read_only" error); any other 503 is a failed write.
func TestPostClassifiesWrites(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.24:%d", portPost)
	app := StartFakeApp(t, addr, "")
	inv := labInventory()
	inv.Probe.WriteURL = "http://" + addr + "/probe-write"
	p := New(inv, Options{})
	names := map[writeOutcome]string{writeOK: "ok", writeRefused: "refused", writeFailed: "failed"}
	cases := []struct {
		name   string
		answer WriteAnswer
		want   writeOutcome
	}{
		{"stored", WriteStored, writeOK},
		{"read-only database", WriteReadOnly, writeRefused},
		{"read-only with a long body", WriteAnswer{Status: 503, RetryAfter: "1", Body: WriteReadOnly.Body + strings.Repeat(" ", 2*maxRefusal)}, writeRefused},
		{"nginx 503 page (limit_req, maintenance)", WriteNginx503, writeFailed},
		{"maintenance page with Retry-After", WriteMaintenance, writeFailed},
		{"database unavailable", WriteUnavailable, writeFailed},
		{"read_only without Retry-After", WriteReadOnlyNoRetry, writeFailed},
		{"read_only beyond the part searched", WriteAnswer{Status: 503, RetryAfter: "1", Body: strings.Repeat(" ", maxRefusal) + WriteReadOnly.Body}, writeFailed},
		{"server error", WriteServerError, writeFailed},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app.SetWrite(c.answer)
			if got := p.post(context.Background(), uint64(i)); got.outcome != c.want {
				t.Errorf("HTTP %d, Retry-After %q, body %.60q… counted as %s, want %s", c.answer.Status, c.answer.RetryAfter, c.answer.Body, names[got.outcome], names[c.want])
			}
		})
	}
	if n := app.Seen()["POST -"]; n != len(cases) {
		t.Errorf("the app saw %d POSTs, want %d", n, len(cases))
	}
	t.Run("nothing listening", func(t *testing.T) {
		inv.Probe.WriteURL = fmt.Sprintf("http://127.0.0.24:%d/probe-write", portPostClosed)
		if got := New(inv, Options{}).post(context.Background(), 0); got.outcome != writeFailed {
			t.Errorf("a write to a closed port counted as %s, want failed", names[got.outcome])
		}
	})
}
