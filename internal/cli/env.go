package cli

import (
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
)

func isTerminal() bool {
	return term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
}

func defaultOperator() string {
	for _, k := range []string{"PITSTOP_OPERATOR", "SUDO_USER", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "operator"
}

// fileSafe makes an inventory's name usable in a file name: "shop (lab in /tmp/x)" would otherwise
// add directories to the journal's path. Runs of other characters become one "-".
func fileSafe(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if r < 128 && (r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "inventory"
	}
	return out
}
