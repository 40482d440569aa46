package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"

	"github.com/pitstop-ops/pitstop/steps"
)

// jsonLines writes one JSON object per line; it is safe for concurrent use. The field names written
// are documented in docs/pairing-and-scripting.md and kept stable.
type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonLines) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(append(b, '\n'))
}

// event writes a journal event as the journal has it.
func (j *jsonLines) event(ev steps.Event) { j.write(ev) }

// checkLine is one line of pitstop check --json.
type checkLine struct {
	// Status is ok, fail or note.
	Status string `json:"status"`
	// Host is the inventory host (or "users", "databases", "replication") the check is about, when
	// the line names one.
	Host string `json:"host,omitempty"`
	// Text is the check and, for a failure, why, as the text output says it.
	Text string `json:"text"`
}

// checkJSON turns pitstop check's text lines ("ok    …", "FAIL  …", "note  …") into checkLine objects.
type checkJSON struct {
	out *jsonLines
	buf bytes.Buffer
}

func (c *checkJSON) Write(p []byte) (int, error) {
	c.buf.Write(p)
	for {
		line, err := c.buf.ReadString('\n')
		if err != nil {
			c.buf.WriteString(line) // an unfinished line waits for its end
			return len(p), nil
		}
		c.line(strings.TrimRight(line, "\n"))
	}
}

// flush writes a last line that had no newline.
func (c *checkJSON) flush() {
	if l := c.buf.String(); l != "" {
		c.buf.Reset()
		c.line(l)
	}
}

func (c *checkJSON) line(l string) {
	if strings.TrimSpace(l) == "" {
		return
	}
	status, text := "note", strings.TrimSpace(l)
	for prefix, s := range map[string]string{"ok ": "ok", "FAIL ": "fail", "note ": "note"} {
		if strings.HasPrefix(l, prefix) {
			status, text = s, strings.TrimSpace(l[len(prefix):])
		}
	}
	host, _, found := strings.Cut(text, ": ")
	if !found || strings.ContainsAny(host, " ()") {
		host = ""
	}
	c.out.write(checkLine{Status: status, Host: host, Text: text})
}
