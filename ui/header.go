package ui

import (
	"github.com/pitstop-ops/pitstop/steps"
)

// headerView is the top line: DEMO or LIVE, inventory, plan, status with elapsed time, clock, driver.
func (m *Model) headerView(w int) string {
	s := m.styles
	mode := s.LiveBlock.Render("██") + s.ModeLive.Render(" LIVE ") + s.LiveBlock.Render("██")
	if m.cfg.Demo {
		mode = s.DemoBlock.Render("██") + s.ModeDemo.Render(" DEMO ") + s.DemoBlock.Render("██")
	}
	status, st := m.status()
	inv := s.Bold.Render(orText(m.cfg.Inventory.Name, "(unnamed)"))
	plan := s.Bold.Render(orText(m.run.planName, "?"))
	state := st.Render(status) + " " + s.Bold.Render(clockDur(m.run.elapsed()))
	clock := s.Normal.Render(m.now().Format("15:04:05"))
	driver := s.Dim.Render("driver ") + s.Bold.Render(m.cfg.Operator)
	dot := s.Dim.Render(" · ")
	watching := func(room int) string {
		if t := watchersText(m.watchers, room); t != "" {
			return dot + s.Dim.Render(t)
		}
		return ""
	}
	// The roomiest form that fits; every form keeps mode, state and "driver NAME", the narrower ones
	// say who is attached by a count.
	forms := [][2]string{
		{mode + " " + s.Brand.Render("pitstop") + " " + inv + s.Dim.Render(" · plan ") + plan + dot + state, clock + dot + driver},
		{mode + " " + inv + dot + plan + dot + state, clock + dot + driver},
		{mode + " " + plan + dot + state, driver},
		{mode + " " + state, driver},
	}
	// First the roomiest form that also says who is attached, then the roomiest that fits.
	for _, needWatchers := range []bool{len(m.watchers) > 0, false} {
		for _, f := range forms {
			room := w - width(f[0]) - width(f[1]) - 1
			if room < 0 {
				continue
			}
			wt := watching(room - 3)
			if needWatchers && wt == "" {
				continue
			}
			return spread(f[0], f[1]+wt, w)
		}
	}
	// Narrower than any form: the driver's label first, the rest as fits.
	right := fit(driver, max(w/2, 1))
	return spread(fit(mode+" "+state, max(w-width(right)-1, 0)), right, w)
}

// status says in one word or two where the run is, with the style to say it in.
func (m *Model) status() (string, Paint) {
	r, s := m.run, m.styles
	switch {
	case r.finished:
		switch r.finalStatus {
		case steps.StatusDone:
			return "FINISHED", s.OK
		case steps.StatusAborted:
			return "ABORTED", s.Bad
		}
		return "FAILED", s.Bad
	case r.engineDone:
		return "ENGINE STOPPED", s.Bad
	case r.started.IsZero():
		return "starting", s.Dim
	case r.rolling != nil:
		return "ROLLING BACK", s.Bad
	case r.gate != nil && r.gate.Kind == steps.GateFailed:
		return "STEP FAILED", s.Bad
	case r.gate != nil && r.gate.Allows(steps.Confirm) && r.gate.Ready:
		return "waiting for you", s.Warn
	case r.gate != nil:
		return "waiting for conditions", s.Warn
	}
	return "running", s.OK
}
