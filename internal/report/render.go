package report

import (
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/steps"
)

// Section IDs, the same in HTML (element ids) and Markdown (headings).
const (
	SecSummary     = "summary"
	SecTimeline    = "timeline"
	SecUsers       = "users"
	SecReplication = "replication"
	SecCommands    = "commands"
	SecFinal       = "final-state"
)

// facts are the summary lines both formats show.
func (s *Session) facts() [][2]string {
	status := string(s.Status)
	if status == "" {
		status = "unfinished (the journal ends before the plan did)"
	}
	out := [][2]string{
		{"Plan", s.Title},
		{"Started", s.Start.Format("2006-01-02 15:04:05 MST")},
		{"Ended", s.End.Format("2006-01-02 15:04:05 MST")},
		{"Duration", s.End.Sub(s.Start).Round(time.Second).String()},
		{"Outcome", status},
	}
	if s.Summary != nil {
		out = append(out, [2]string{"Users saw failures for", s.Summary.Downtime.String()})
	}
	if ops := s.Operators(); len(ops) > 0 {
		out = append(out, [2]string{"Decisions by", strings.Join(ops, ", ")})
	}
	out = append(out, [2]string{"Refused writes", s.refusedText()}, [2]string{"Journal", s.Journal})
	return out
}

func (s *Session) refusedText() string {
	var parts []string
	for _, r := range s.Refused {
		parts = append(parts, fmt.Sprintf("the probe saw writes refused from %s to %s (%s)",
			r.Start.Format("15:04:05"), r.End.Format("15:04:05"), r.Duration().Round(time.Second)))
	}
	if s.RefusedWrites > 0 {
		parts = append(parts, fmt.Sprintf("%d probe writes refused in all", s.RefusedWrites))
	}
	for _, f := range s.Fenced {
		parts = append(parts, fmt.Sprintf("%s from %s to %s (%s)", f.Name, f.Start.Format("15:04:05"), f.End.Format("15:04:05"), f.Duration().Round(time.Second)))
	}
	if len(parts) == 0 {
		return "none seen"
	}
	return strings.Join(parts, "; ")
}

// lagRow summarises one link.
type lagRow struct {
	Link            string
	Max, Last       string
	NotStreamingFor string
}

func (s *Session) lagRows() []lagRow {
	var out []lagRow
	for _, k := range s.Links {
		var mx, last int64
		var down time.Duration
		var prev time.Time
		for _, m := range s.Samples {
			v, ok := m.Lags[k]
			if ok && v >= 0 {
				mx, last = max(mx, v), v
			}
			if ok && v < 0 && !prev.IsZero() {
				down += m.Time.Sub(prev)
			}
			prev = m.Time
		}
		out = append(out, lagRow{k, steps.Bytes(mx), steps.Bytes(last), down.Round(time.Second).String()})
	}
	return out
}

func exitText(c Command) string {
	switch {
	case c.Exit != nil && *c.Exit == 0:
		return "0"
	case c.Exit != nil:
		return fmt.Sprintf("%d", *c.Exit)
	case c.Err == "":
		return "not recorded" // a journal from before exit statuses were kept
	}
	return "none: " + c.Err
}

// HTML writes the report as one self-contained HTML page.
func (s *Session) HTML(w io.Writer) error {
	type gateRow struct {
		Opened, Decided, Step, Kind, Decision, Waited, Declines string
	}
	var gates []gateRow
	for _, g := range s.Gates {
		r := gateRow{Opened: g.Opened.Format("15:04:05"), Step: g.Step, Kind: string(g.Kind), Decision: "(still waiting when the journal ends)"}
		if !g.Decided.IsZero() {
			r.Decided = g.Decided.Format("15:04:05")
			r.Decision = said(g.Decision)
			r.Waited = g.Decided.Sub(g.Opened).Round(100 * time.Millisecond).String()
		}
		for _, d := range g.Declines {
			r.Declines += d.Past() + " "
		}
		gates = append(gates, r)
	}
	var charts = map[string]template.HTML{}
	for _, c := range s.Charts() {
		charts[c.Name] = template.HTML(c.SVG) // drawn here, every text escaped
	}
	data := map[string]any{
		"S": s, "Facts": s.facts(), "Gates": gates, "Charts": charts, "Lags": s.lagRows(),
		"Exit": exitText, "Refused": s.refusedText(),
	}
	return page.Execute(w, data)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"clock": func(t time.Time) string { return t.Format("15:04:05") },
	"dur":   func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() },
	"round": func(d time.Duration) string { return d.Round(time.Second).String() },
	"ok":    func(c Command) bool { return c.Exit != nil && *c.Exit == 0 },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pitstop report: {{.S.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#24292f;max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}code{font-size:12px;word-break:break-all}
.bad{color:#d1242f;font-weight:600}.good{color:#1a7f37;font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{font-weight:600}
svg{display:block;margin:8px 0;border:1px solid #eaeef2}
@media print{body{max-width:none;margin:0}h2{break-after:avoid}svg,table{break-inside:avoid}}
</style></head><body>
<h1>Pitstop report: {{.S.Title}}</h1>
<section id="summary"><h2>Summary</h2><dl>{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl></section>
<section id="timeline"><h2>Timeline: phases and gates</h2>
{{index .Charts "timeline"}}
<table><tr><th>opened</th><th>step</th><th>gate</th><th>decided</th><th>decision</th><th>waited</th></tr>
{{range .Gates}}<tr><td>{{.Opened}}</td><td>{{.Step}}</td><td>{{.Kind}}</td><td>{{.Decided}}</td><td>{{.Decision}}{{if .Declines}} (before: {{.Declines}}){{end}}</td><td class="num">{{.Waited}}</td></tr>
{{end}}</table>
{{if .S.Events}}<table><tr><th>time</th><th>what happened</th></tr>{{range .S.Events}}<tr><td>{{clock .Time}}</td><td>{{.Kind}}: {{.Text}}</td></tr>{{end}}</table>{{end}}
<table><tr><th>step</th><th>phase</th><th>status</th><th>started</th><th>duration</th></tr>
{{range .S.Steps}}<tr><td>{{.ID}}</td><td>{{.Phase}}</td><td class="{{if eq (print .Status) "done"}}good{{else}}bad{{end}}">{{.Status}}{{if .Err}}: {{.Err}}{{end}}</td><td>{{clock .Start}}</td><td class="num">{{dur .Duration}}</td></tr>
{{end}}</table></section>
<section id="users"><h2>Users</h2>
<p>Refused writes: {{.Refused}}.</p>
{{index .Charts "users-success"}}{{index .Charts "users-latency"}}{{index .Charts "served-by"}}
</section>
<section id="replication"><h2>Replication lag</h2>
{{index .Charts "replication-lag"}}
<table><tr><th>link</th><th>most behind</th><th>at the end</th><th>not streaming for</th></tr>
{{range .Lags}}<tr><td>{{.Link}}</td><td class="num">{{.Max}}</td><td class="num">{{.Last}}</td><td class="num">{{.NotStreamingFor}}</td></tr>{{end}}</table></section>
<section id="commands"><h2>Commands</h2>
<table><tr><th>started</th><th>step</th><th>host</th><th>command</th><th>duration</th><th>exit</th></tr>
{{range .S.Commands}}<tr><td>{{clock .Time}}</td><td>{{.Step}}</td><td>{{.Host}}</td><td><code>{{.Command}}</code></td><td class="num">{{dur .Duration}}</td><td class="{{if ok .}}good{{else}}bad{{end}}">{{call $.Exit .}}</td></tr>
{{else}}<tr><td colspan="6">No command ran on a host.</td></tr>{{end}}</table></section>
<section id="final-state"><h2>State left at the end</h2>
{{with .S.Summary}}<p class="{{if eq (print .Status) "done"}}good{{else}}bad{{end}}">{{.Status}} after {{round .Elapsed}}; users are on {{.Live}}.</p><p>{{.State}}</p>
{{if .Next}}<p>What to do next:</p><ul>{{range .Next}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{else}}<p class="bad">The journal ends before the plan finished: the run was cut off. Check the hosts before anything else.</p>{{end}}
{{if .S.FinalErr}}<p class="bad">{{.S.FinalErr}}</p>{{end}}
</section>
<footer><p style="color:#57606a">Written by pitstop report from {{.S.Journal}}.</p></footer>
</body></html>
`))

// Markdown writes the report as Markdown to w and each chart as NAME.svg in dir, linked by a path
// relative to the Markdown file's directory (link).
func (s *Session) Markdown(w io.Writer, dir, link string) error {
	charts := s.Charts()
	img := map[string]string{}
	for _, c := range charts {
		f := filepath.Join(dir, c.Name+".svg")
		if err := os.WriteFile(f, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+c.SVG+"\n"), 0o644); err != nil {
			return fmt.Errorf("report: write chart %s: %w", f, err)
		}
		img[c.Name] = fmt.Sprintf("![%s](%s)\n\n", c.Title, filepath.ToSlash(filepath.Join(link, c.Name+".svg")))
	}
	var b strings.Builder
	cell := func(v string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(v) }
	fmt.Fprintf(&b, "# Pitstop report: %s\n\n## Summary\n\n", s.Title)
	for _, f := range s.facts() {
		fmt.Fprintf(&b, "- **%s**: %s\n", f[0], cell(f[1]))
	}
	b.WriteString("\n## Timeline\n\n" + img["timeline"])
	b.WriteString("| opened | step | gate | decided | decision | waited |\n|---|---|---|---|---|---|\n")
	for _, g := range s.Gates {
		dec, at, waited := "(still waiting when the journal ends)", "", ""
		if !g.Decided.IsZero() {
			dec, at, waited = said(g.Decision), g.Decided.Format("15:04:05"), g.Decided.Sub(g.Opened).Round(100*time.Millisecond).String()
		}
		for _, d := range g.Declines {
			dec += " (before: " + d.Past() + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", g.Opened.Format("15:04:05"), g.Step, g.Kind, at, cell(dec), waited)
	}
	if len(s.Events) > 0 {
		b.WriteString("\n")
		for _, e := range s.Events {
			fmt.Fprintf(&b, "- %s %s: %s\n", e.Time.Format("15:04:05"), e.Kind, cell(e.Text))
		}
	}
	b.WriteString("\n| step | phase | status | started | duration |\n|---|---|---|---|---|\n")
	for _, st := range s.Steps {
		status := string(st.Status)
		if st.Err != "" {
			status += ": " + st.Err
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", st.ID, st.Phase, cell(status), st.Start.Format("15:04:05"), st.Duration.Round(10*time.Millisecond))
	}
	fmt.Fprintf(&b, "\n## Users\n\nRefused writes: %s.\n\n%s%s%s", s.refusedText(), img["users-success"], img["users-latency"], img["served-by"])
	b.WriteString("## Replication lag\n\n" + img["replication-lag"])
	b.WriteString("| link | most behind | at the end | not streaming for |\n|---|---|---|---|\n")
	for _, r := range s.lagRows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Link, r.Max, r.Last, r.NotStreamingFor)
	}
	b.WriteString("\n## Commands\n\n| started | step | host | command | duration | exit |\n|---|---|---|---|---|---|\n")
	for _, c := range s.Commands {
		fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s | %s |\n", c.Time.Format("15:04:05"), c.Step, c.Host, strings.ReplaceAll(cell(c.Command), "`", "'"), c.Duration.Round(10*time.Millisecond), cell(exitText(c)))
	}
	if len(s.Commands) == 0 {
		b.WriteString("| | | | no command ran on a host | | |\n")
	}
	b.WriteString("\n## State left at the end\n\n")
	if sum := s.Summary; sum != nil {
		fmt.Fprintf(&b, "**%s** after %s; users are on %s.\n\n%s\n", sum.Status, sum.Elapsed.Round(time.Second), sum.Live, cell(sum.State))
		if len(sum.Next) > 0 {
			b.WriteString("\nWhat to do next:\n\n")
			for _, n := range sum.Next {
				fmt.Fprintf(&b, "- %s\n", cell(n))
			}
		}
	} else {
		b.WriteString("The journal ends before the plan finished: the run was cut off. Check the hosts before anything else.\n")
	}
	if s.FinalErr != "" {
		fmt.Fprintf(&b, "\nError: %s\n", cell(s.FinalErr))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// said is a gate's decision in words; a gate the conditions passed says so.
func said(d steps.Decision) string {
	if d.By == "conditions" {
		return "passed: its conditions held"
	}
	return d.Past()
}
