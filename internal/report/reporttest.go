package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckHTML reports what a rendered report lacks: each section, each chart, and nothing fetched from
// the network. Tests of the report and the end-to-end test share it.
func CheckHTML(page string) []string {
	var missing []string
	for _, id := range []string{SecSummary, SecTimeline, SecUsers, SecReplication, SecCommands, SecFinal} {
		if !strings.Contains(page, `<section id="`+id+`">`) {
			missing = append(missing, "section "+id)
		}
	}
	for _, name := range []string{"Phases and gates", "Probe success rate", "Probe latency", "Live side and the side that served users", "Replication lag"} {
		if !strings.Contains(page, `aria-label="`+name) {
			missing = append(missing, "chart "+name)
		}
	}
	for _, bad := range []string{"http://", "https://", "src=", "@import"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.HasPrefix(page[i:], "http://www.w3.org/2000/svg") {
			missing = append(missing, fmt.Sprintf("self-containment: the page references %q", page[i:min(len(page), i+60)]))
		}
	}
	return missing
}

// Screenshot opens file in headless Chromium and returns the PNG's pixel variance over its
// luminance (0 for a blank page) and the PNG's path.
func Screenshot(file, dir string) (variance float64, shot string, err error) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return 0, "", err
	}
	shot = filepath.Join(dir, "report.png")
	abs, _ := filepath.Abs(file)
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--screenshot="+shot, "--window-size=1200,1800", "file://"+abs)
	cmd.Env = append(os.Environ(), "HOME="+dir) // chromium writes its profile there
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, "", fmt.Errorf("chromium: %w\n%s", err, out)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		return 0, "", err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	var sum, sq, n float64
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y += 2 {
		for x := bd.Min.X; x < bd.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / n
	return sq/n - mean*mean, shot, nil
}
