package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Charts are plain SVG built here: axes, lines, bands and bars in a fixed viewBox that scales with
// the page and prints in black and white as well (every series also differs by dash).

const (
	chartW  = 960
	padL    = 70
	padR    = 20
	padT    = 28
	padB    = 34
	plotW   = chartW - padL - padR
	fontCSS = `font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="12"`
)

// palette colours series; dashes tell them apart in print.
var palette = []string{"#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0598bc", "#bf3989", "#57606a"}
var dashes = []string{"", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6"}

type point struct {
	t time.Time
	v float64
	// gap ends the line before this point (no data: not streaming, no reading).
	gap bool
}

type series struct {
	name string
	pts  []point
}

type band struct {
	from, to time.Time
	label    string
	color    string
}

// axis maps time to x.
type axis struct{ t0, t1 time.Time }

func (a axis) x(t time.Time) float64 {
	span := a.t1.Sub(a.t0)
	if span <= 0 {
		return padL
	}
	return padL + float64(plotW)*float64(t.Sub(a.t0))/float64(span)
}

// timeTicks draws the time axis at the bottom of a plot of height h.
func (a axis) timeTicks(b *strings.Builder, h float64) {
	span := a.t1.Sub(a.t0)
	step := niceDuration(span / 8)
	first := a.t0.Truncate(step)
	if first.Before(a.t0) {
		first = first.Add(step)
	}
	for t := first; !t.After(a.t1); t = t.Add(step) {
		x := a.x(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#d0d7de"/>`, x, padT, x, h)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#57606a">%s</text>`, x, h+16, t.Format("15:04:05"))
	}
}

func niceDuration(d time.Duration) time.Duration {
	for _, n := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour} {
		if d <= n {
			return n
		}
	}
	return 2 * time.Hour
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func svgOpen(b *strings.Builder, h int, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" %s>`, chartW, h, html.EscapeString(title), fontCSS)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, chartW, h)
	fmt.Fprintf(b, `<text x="%d" y="18" font-weight="600" fill="#24292f">%s</text>`, padL, html.EscapeString(title))
}

// lineChart draws series against time, y from yMin to yMax (yMax 0: from the data), with bands shaded
// behind the lines and a legend.
func lineChart(title string, a axis, ss []series, yMin, yMax float64, yFmt func(float64) string, bands []band) string {
	const h = 240
	bottom := float64(h - padB)
	if yMax == 0 {
		for _, s := range ss {
			for _, p := range s.pts {
				if !p.gap {
					yMax = math.Max(yMax, p.v)
				}
			}
		}
		yMax = niceMax(yMax)
	}
	y := func(v float64) float64 {
		v = math.Max(yMin, math.Min(yMax, v))
		return bottom - (bottom-padT)*(v-yMin)/(yMax-yMin)
	}
	var b strings.Builder
	svgOpen(&b, h, title)
	for _, bd := range bands {
		x0, x1 := a.x(bd.from), a.x(bd.to)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.18"><title>%s</title></rect>`, x0, padT, math.Max(x1-x0, 1), bottom-padT, bd.color, html.EscapeString(bd.label))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" font-size="11">%s</text>`, x0+3, padT+12, bd.color, html.EscapeString(bd.label))
	}
	for i := 0; i <= 4; i++ {
		v := yMin + (yMax-yMin)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eaeef2"/>`, padL, y(v), padL+plotW, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#57606a">%s</text>`, padL-6, y(v)+4, html.EscapeString(yFmt(v)))
	}
	a.timeTicks(&b, bottom)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%.1f" fill="none" stroke="#8c959f"/>`, padL, padT, plotW, bottom-padT)
	lx := legendX(title)
	for i, s := range ss {
		color, dash := palette[i%len(palette)], dashes[i%len(dashes)]
		var path strings.Builder
		pen := false
		for _, p := range s.pts {
			if p.gap {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, a.x(p.t), y(p.v))
			pen = true
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-dasharray="%s"><title>%s</title></path>`, strings.TrimSpace(path.String()), color, dash, html.EscapeString(s.name))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="14" x2="%.1f" y2="14" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, lx, lx+22, color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="18" fill="#24292f">%s</text>`, lx+26, html.EscapeString(s.name))
		lx += 40 + 7*float64(len(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// strip is one row of coloured segments (a categorical value over time).
type strip struct {
	label string
	segs  []segment
}

type segment struct {
	from, to time.Time
	value    string
}

// stripChart draws rows of categorical values over time: which side is live, which served users.
func stripChart(title string, a axis, rows []strip, colors map[string]string) string {
	const rowH = 26
	h := padT + rowH*len(rows) + padB + 6
	bottom := float64(padT + rowH*len(rows))
	var b strings.Builder
	svgOpen(&b, h, title)
	lx := legendX(title)
	seen := map[string]bool{}
	for i, r := range rows {
		y := float64(padT + i*rowH)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#24292f">%s</text>`, padL-6, y+17, html.EscapeString(r.label))
		for _, sg := range r.segs {
			c := colors[sg.value]
			if c == "" {
				c = "#8c959f"
			}
			x0, x1 := a.x(sg.from), a.x(sg.to)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s %s–%s</title></rect>`, x0, y+3, math.Max(x1-x0, 1), rowH-6, c,
				html.EscapeString(sg.value), sg.from.Format("15:04:05"), sg.to.Format("15:04:05"))
			if x1-x0 > 70 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#ffffff">%s</text>`, x0+4, y+17, html.EscapeString(sg.value))
			}
			if !seen[sg.value] {
				seen[sg.value] = true
				fmt.Fprintf(&b, `<rect x="%.1f" y="7" width="12" height="12" fill="%s"/><text x="%.1f" y="18" fill="#24292f">%s</text>`, lx, c, lx+16, html.EscapeString(sg.value))
				lx += 30 + 7*float64(len(sg.value))
			}
		}
	}
	a.timeTicks(&b, bottom)
	b.WriteString(`</svg>`)
	return b.String()
}

// timelineChart draws the phases as bars, one row each, and the gates as marks on the row of their
// phase: a filled diamond where an operator decided, an open one where the conditions did.
func timelineChart(title string, a axis, s *Session) string {
	const rowH = 24
	h := padT + rowH*len(s.Phases) + padB + 6
	bottom := float64(padT + rowH*len(s.Phases))
	var b strings.Builder
	svgOpen(&b, h, title)
	left := 150.0 // phase names need more room than numbers
	ax := a
	scale := func(t time.Time) float64 { return left + (ax.x(t)-padL)*(float64(chartW-padR)-left)/float64(plotW) }
	for i, p := range s.Phases {
		y := float64(padT + i*rowH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#24292f">%s</text>`, left-6, y+16, html.EscapeString(trim(p.Name, 22)))
		x0, x1 := scale(p.Start), scale(p.End)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" fill-opacity="0.75"><title>%s: %s–%s (%s)</title></rect>`,
			x0, y+4, math.Max(x1-x0, 2), rowH-8, palette[i%len(palette)], html.EscapeString(p.Name), p.Start.Format("15:04:05"), p.End.Format("15:04:05"), p.Duration().Round(time.Second))
		for _, g := range s.Gates {
			if g.Decided.IsZero() || g.Decided.Before(p.Start) || g.Decided.After(p.End) {
				continue
			}
			gx := scale(g.Decided)
			fill := "#ffffff"
			if g.Decision.By != "conditions" {
				fill = "#24292f"
			}
			fmt.Fprintf(&b, `<path d="M%.1f %.1f l5 7 l-5 7 l-5 -7 z" fill="%s" stroke="#24292f"><title>%s: %s at %s</title></path>`, gx, y+5, fill,
				html.EscapeString(g.Step), html.EscapeString(g.Decision.Past()), g.Decided.Format("15:04:05"))
		}
	}
	// Time ticks on the phase scale.
	span := a.t1.Sub(a.t0)
	step := niceDuration(span / 8)
	first := a.t0.Truncate(step)
	if first.Before(a.t0) {
		first = first.Add(step)
	}
	for t := first; !t.After(a.t1); t = t.Add(step) {
		x := scale(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#d0d7de" stroke-dasharray="2 3"/>`, x, padT, x, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#57606a">%s</text>`, x, bottom+16, t.Format("15:04:05"))
	}
	fmt.Fprintf(&b, `<text x="%d" y="18" fill="#57606a">◆ decided by an operator   ◇ by its conditions</text>`, chartW-330)
	b.WriteString(`</svg>`)
	return b.String()
}

// legendX is where a chart's legend starts: after its title.
func legendX(title string) float64 { return float64(padL) + 7.2*float64(len([]rune(title))) + 24 }

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
