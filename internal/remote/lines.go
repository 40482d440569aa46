package remote

import (
	"bytes"
	"unicode/utf8"

	"github.com/pitstop-ops/pitstop/steps"
)

// MaxLine is the longest line handed to an OutputFunc, in bytes. Longer lines (or output that never
// ends a line) are cut into pieces of at most MaxLine bytes, on a UTF-8 character boundary.
const MaxLine = 64 << 10

// lineWriter turns a byte stream into lines for an OutputFunc. Each stream of a command has its own
// writer, fed by one goroutine, so it needs no lock.
type lineWriter struct {
	stream steps.Stream
	out    steps.OutputFunc
	buf    []byte
}

func newLineWriter(stream steps.Stream, out steps.OutputFunc) *lineWriter {
	return &lineWriter{stream: stream, out: out}
}

// Write emits every complete line in p and keeps the rest for the next call.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			w.emitFull()
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emitFull()
		w.emit(w.buf)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Flush emits a last line that did not end with a newline.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

// emitFull emits MaxLine-sized pieces while more than MaxLine bytes are buffered, so memory stays bounded
// however long a line is.
func (w *lineWriter) emitFull() {
	for len(w.buf) > MaxLine {
		cut := MaxLine
		// Back off to the start of a UTF-8 character so that no piece ends with half a rune.
		for k := cut; k > MaxLine-utf8.UTFMax; k-- {
			if utf8.RuneStart(w.buf[k]) {
				cut = k
				break
			}
		}
		w.emit(w.buf[:cut])
		w.buf = append(w.buf[:0], w.buf[cut:]...)
	}
}

func (w *lineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if w.out != nil {
		w.out(w.stream, string(line))
	}
}
