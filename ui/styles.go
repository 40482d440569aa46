package ui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles is every style the cockpit draws with. It is built once per background (dark or light) by
// NewStyles; views never create styles of their own. Meaning never rests on colour alone: every
// coloured state also has a word or a symbol (LIVE, ✓/✗, +/-, "!"), so the screen reads the same
// under NO_COLOR.
type Styles struct {
	Dark bool

	// Header line.
	Header   Paint
	ModeDemo Paint
	ModeLive Paint
	// DemoBlock and LiveBlock draw the solid blocks either side of the mode word.
	DemoBlock Paint
	LiveBlock Paint
	Brand     Paint

	// Panel titles and separators.
	Title Paint
	Rule  Paint

	// Text roles.
	Normal Paint
	Dim    Paint
	Bold   Paint
	OK     Paint
	Bad    Paint
	Warn   Paint
	Accent Paint

	// Topology.
	LiveSide Paint
	Side     Paint
	Badge    Paint
	BadBadge Paint

	// Phases.
	Phase   Paint
	Current Paint

	// Gate and dialogs.
	Prompt  Paint
	Key     Paint
	KeyOff  Paint
	DiffAdd Paint
	DiffDel Paint
	Dialog  Paint

	// Output.
	Host   Paint
	Stderr Paint

	// Sparklines.
	Spark Paint

	// Finished-plan banner.
	Finished Paint
	Failed   Paint

	// Help is handed to bubbles/help.
	Help help.Styles
}

// Paint is one style, rendered once into the escape sequences that open and close it, so that
// drawing a frame concatenates strings instead of running lipgloss for every fragment (a frame
// holds hundreds). Only colours and text attributes (bold, reverse…) survive this: no padding,
// widths or borders, which the cockpit lays out itself.
type Paint struct{ open, close string }

// paintMark stands for the text while a style is rendered once; it is a private-use character.
const paintMark = "\ue000"

func newPaint(st lipgloss.Style) Paint {
	open, close, _ := strings.Cut(st.Render(paintMark), paintMark)
	return Paint{open: open, close: close}
}

// Render wraps text in the style. text must be one line without styles of its own ending in a reset.
func (p Paint) Render(text string) string {
	if text == "" {
		return ""
	}
	return p.open + text + p.close
}

// NewStyles builds the cockpit's styles for a dark or a light terminal background.
func NewStyles(dark bool) *Styles {
	ld := lipgloss.LightDark(dark)
	var (
		fg     = ld(lipgloss.Color("#1c1c1c"), lipgloss.Color("#e4e4e4"))
		dim    = ld(lipgloss.Color("#6c6c6c"), lipgloss.Color("#8a8a8a"))
		green  = ld(lipgloss.Color("#00875f"), lipgloss.Color("#5fd787"))
		red    = ld(lipgloss.Color("#c00000"), lipgloss.Color("#ff5f5f"))
		yellow = ld(lipgloss.Color("#875f00"), lipgloss.Color("#ffd75f"))
		blue   = ld(lipgloss.Color("#005fd7"), lipgloss.Color("#5fafff"))
		purple = ld(lipgloss.Color("#5f00af"), lipgloss.Color("#af87ff"))
		onDark = lipgloss.Color("#000000")
		onLite = lipgloss.Color("#ffffff")
	)
	base := lipgloss.NewStyle()
	s := &Styles{Dark: dark}
	s.Normal = newPaint(base.Foreground(fg))
	s.Dim = newPaint(base.Foreground(dim))
	s.Bold = newPaint(base.Foreground(fg).Bold(true))
	s.OK = newPaint(base.Foreground(green))
	s.Bad = newPaint(base.Foreground(red).Bold(true))
	s.Warn = newPaint(base.Foreground(yellow).Bold(true))
	s.Accent = newPaint(base.Foreground(blue))

	s.Header = newPaint(base.Foreground(fg))
	s.Brand = newPaint(base.Foreground(purple).Bold(true))
	s.ModeDemo = newPaint(base.Foreground(onDark).Background(lipgloss.Color("#ffaf00")).Bold(true))
	s.ModeLive = newPaint(base.Foreground(onLite).Background(lipgloss.Color("#d70000")).Bold(true))
	s.DemoBlock = newPaint(base.Foreground(lipgloss.Color("#ffaf00")))
	s.LiveBlock = newPaint(base.Foreground(lipgloss.Color("#d70000")))

	s.Title = newPaint(base.Foreground(purple).Bold(true))
	s.Rule = newPaint(base.Foreground(dim))

	s.LiveSide = newPaint(base.Foreground(onDark).Background(green).Bold(true))
	s.Side = newPaint(base.Foreground(fg).Bold(true))
	s.Badge = newPaint(base.Foreground(yellow))
	s.BadBadge = newPaint(base.Foreground(red).Bold(true))

	s.Phase = newPaint(base.Foreground(fg).Bold(true))
	s.Current = newPaint(base.Reverse(true).Bold(true))

	s.Prompt = newPaint(base.Foreground(fg).Bold(true))
	s.Key = newPaint(base.Foreground(blue).Bold(true))
	s.KeyOff = newPaint(base.Foreground(dim).Strikethrough(true))
	s.DiffAdd = newPaint(base.Foreground(green))
	s.DiffDel = newPaint(base.Foreground(red))
	s.Dialog = newPaint(base.Foreground(yellow).Bold(true))

	s.Host = newPaint(base.Foreground(blue))
	s.Stderr = newPaint(base.Foreground(red))

	s.Spark = newPaint(base.Foreground(blue))

	s.Finished = newPaint(base.Foreground(onDark).Background(green).Bold(true))
	s.Failed = newPaint(base.Foreground(onLite).Background(red).Bold(true))

	s.Help = help.DefaultStyles(dark)
	return s
}
