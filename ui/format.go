package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// humanBytes renders a byte count in binary units: "0 B", "512 B", "12.0 KiB", "3.4 MiB".
func humanBytes(n int64) string {
	if n < 0 {
		return "-" + humanBytes(-n)
	}
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := float64(n) / 1024
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// shortDur renders a duration for a readout: "0.4s", "12s", "3m04s", "1h02m".
func shortDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// clockDur renders elapsed time as a stopwatch: "03:12" or "1:03:12".
func clockDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// sparkBlocks are the eight heights of a sparkline cell.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws vs in at most width cells, newest on the right. When there are more samples than
// cells, each cell shows the largest sample of its bucket, so a spike is never averaged away. The
// scale runs from lo to the largest value shown (or hi when hi > lo, for a fixed scale).
func sparkline(vs []float64, width int, lo, hi float64) string {
	if width <= 0 || len(vs) == 0 {
		return ""
	}
	cells := vs
	if len(vs) > width {
		// Buckets are aligned on the newest sample so the right edge is always fresh.
		per := (len(vs) + width - 1) / width
		cells = make([]float64, 0, width)
		for end := len(vs); end > 0 && len(cells) < width; end -= per {
			mx := vs[end-1]
			for _, v := range vs[max(0, end-per):end] {
				mx = max(mx, v)
			}
			cells = append(cells, mx)
		}
		for i, j := 0, len(cells)-1; i < j; i, j = i+1, j-1 {
			cells[i], cells[j] = cells[j], cells[i]
		}
	}
	top := hi
	if top <= lo {
		top = lo
		for _, v := range cells {
			top = max(top, v)
		}
	}
	var b strings.Builder
	for _, v := range cells {
		i := 0
		if top > lo {
			i = int((v - lo) / (top - lo) * float64(len(sparkBlocks)-1))
		}
		b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
	}
	return b.String()
}

// fit truncates s (which may hold ANSI styles) to w cells, ending with "…" when cut.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	// A cell takes at least one byte, so a string no longer in bytes than w fits without measuring.
	if len(s) <= w || width(s) <= w {
		return s
	}
	return ansi.TruncateWc(s, w, "…")
}

// pad truncates s to w cells and pads it with spaces to exactly w cells.
func pad(s string, w int) string {
	s = fit(s, w)
	if n := width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// padLeft right-aligns s in w cells.
func padLeft(s string, w int) string {
	s = fit(s, w)
	if n := width(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// spread puts left and right on one line of w cells, right-aligned right; right is dropped when both
// do not fit.
func spread(left, right string, w int) string {
	lw, rw := width(left), width(right)
	if lw+rw+1 > w {
		return fit(left, w)
	}
	return left + strings.Repeat(" ", w-lw-rw) + right
}

// clean makes untrusted text (remote command output, error messages) safe to draw on one line:
// escape sequences are dropped, tabs become spaces and other control characters become "?".
func clean(s string) string {
	s = ansi.Strip(s)
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case unicode.IsControl(r):
			b.WriteRune('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fitLines truncates each line to w cells and keeps at most h lines.
func fitLines(lines []string, w, h int) []string {
	if h >= 0 && len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	return lines
}

// width is how many cells s takes on the terminal (ANSI sequences take none). It measures as the
// Bubble Tea renderer does by default (wcwidth), which is also the faster method.
func width(s string) int { return ansi.StringWidthWc(s) }

// unlimited is wrap's n for text that must never be cut.
const unlimited = 1 << 30

// wrap word-wraps plain text s to w cells and keeps at most n lines, the last ending in "…" when
// text was cut. It breaks only at spaces (never inside "app-p2"), and breaks a word only when it is
// longer than a line.
func wrap(s string, w, n int) []string {
	if w <= 0 || n <= 0 {
		return nil
	}
	var out []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for width(word) > w {
			if cur != "" {
				out = append(out, cur)
				cur = ""
			}
			out = append(out, ansi.Cut(word, 0, w))
			word = ansi.Cut(word, w, width(word))
		}
		switch {
		case cur == "":
			cur = word
		case width(cur)+1+width(word) <= w:
			cur += " " + word
		default:
			out = append(out, cur)
			cur = word
		}
	}
	if cur != "" || len(out) == 0 {
		out = append(out, cur)
	}
	if len(out) > n {
		out = out[:n]
		out[n-1] = fit(out[n-1]+" …", w)
		if width(out[n-1]) < w {
			return out
		}
		out[n-1] = ansi.TruncateWc(out[n-1], w-1, "") + "…"
	}
	return out
}

// flow joins parts with sep into as few lines of at most w cells as it can, never splitting a part.
func flow(parts []string, sep string, w int) []string {
	var lines []string
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
			cur = p
		case width(cur+sep+p) <= w:
			cur += sep + p
		default:
			lines = append(lines, cur)
			cur = p
		}
	}
	return append(lines, cur)
}
