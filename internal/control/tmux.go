package control

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// TmuxClients lists the clients attached to the tmux session this process runs in, from tmux itself
// (list-clients): user, tty, and whether it is read-only (attach -r). Outside tmux, or when tmux
// cannot say, it returns nil.
func TmuxClients() []Client {
	if os.Getenv("TMUX") == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The session of this pane: $TMUX_PANE names the pane even when another session is current.
	args := []string{"display-message", "-p"}
	if pane := os.Getenv("TMUX_PANE"); pane != "" {
		args = append(args, "-t", pane)
	}
	sess, err := exec.CommandContext(ctx, "tmux", append(args, "#{session_id}")...).Output()
	if err != nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, "tmux", "list-clients", "-t", strings.TrimSpace(string(sess)),
		"-F", "#{client_user}\t#{client_tty}\t#{client_readonly}").Output()
	if err != nil {
		return nil
	}
	return parseClients(string(out))
}

func parseClients(out string) []Client {
	var cs []Client
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			continue
		}
		cs = append(cs, Client{User: f[0], TTY: strings.TrimPrefix(f[1], "/dev/"), ReadOnly: f[2] == "1"})
	}
	return cs
}
