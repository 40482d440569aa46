package probe

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/inventory"
)

// Ports of this file's tests (see probe_test.go for the others).
const (
	portPost       = 18550
	portPostClosed = 18551
)

// TestPostClassifiesWrites: by default any 503 to a write is a refusal (the database is read-only
// and the application says so in its own words); probe.refused narrows it to a body the
// application gives; anything else that is not 2xx/3xx is a failed write.
func TestPostClassifiesWrites(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.24:%d", portPost)
	app := StartFakeApp(t, addr, "")
	inv := labInventory()
	inv.Probe.WriteURL = "http://" + addr + "/probe-write"
	p := New(inv, Options{})
	narrowInv := labInventory()
	narrowInv.Probe.WriteURL = inv.Probe.WriteURL
	narrowInv.Probe.Refused = inventory.Refused{Body: `"read_only"`}
	narrow := New(narrowInv, Options{})
	names := map[writeOutcome]string{writeOK: "ok", writeRefused: "refused", writeFailed: "failed"}
	plainText := WriteAnswer{Status: 503, RetryAfter: "30", Body: "read-only maintenance\n"}
	cases := []struct {
		name         string
		answer       WriteAnswer
		want, narrow writeOutcome
	}{
		{"stored", WriteStored, writeOK, writeOK},
		{"read-only database", WriteReadOnly, writeRefused, writeRefused},
		{"plain-text 503 read-only maintenance", plainText, writeRefused, writeFailed},
		{"read-only with a long body", WriteAnswer{Status: 503, RetryAfter: "1", Body: WriteReadOnly.Body + strings.Repeat(" ", 2*maxRefusal)}, writeRefused, writeRefused},
		{"nginx 503 page (limit_req, maintenance)", WriteNginx503, writeRefused, writeFailed},
		{"database unavailable", WriteUnavailable, writeRefused, writeFailed},
		{"read_only beyond the part searched", WriteAnswer{Status: 503, RetryAfter: "1", Body: strings.Repeat(" ", maxRefusal) + WriteReadOnly.Body}, writeRefused, writeFailed},
		{"server error", WriteServerError, writeFailed, writeFailed},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app.SetWrite(c.answer)
			if got := p.post(context.Background(), uint64(i)); got.outcome != c.want {
				t.Errorf("default rule: HTTP %d, body %.60q… counted as %s, want %s", c.answer.Status, c.answer.Body, names[got.outcome], names[c.want])
			}
			if got := narrow.post(context.Background(), uint64(i)); got.outcome != c.narrow {
				t.Errorf("refused.body \"read_only\": HTTP %d, body %.60q… counted as %s, want %s", c.answer.Status, c.answer.Body, names[got.outcome], names[c.narrow])
			}
		})
	}
	if n := app.Seen()["POST -"]; n != 2*len(cases) {
		t.Errorf("the app saw %d POSTs, want %d", n, 2*len(cases))
	}
	t.Run("nothing listening", func(t *testing.T) {
		inv.Probe.WriteURL = fmt.Sprintf("http://127.0.0.24:%d/probe-write", portPostClosed)
		if got := New(inv, Options{}).post(context.Background(), 0); got.outcome != writeFailed {
			t.Errorf("a write to a closed port counted as %s, want failed", names[got.outcome])
		}
	})
}
