// Package control lets other terminals on the machine follow and drive a running plan: the cockpit
// or headless run listens on a Unix socket (mode 0600, in a 0700 directory of the user's runtime
// directory) found from the inventory's path; `pitstop status` reads where the run is and `pitstop
// approve|decline|retry|skip|rollback|abort` send a decision to the gate waiting now. Every decision
// carries who sent it: the name given, else the Unix user of the socket's peer (SO_PEERCRED).
//
// The protocol is one JSON request and one JSON reply per connection, each on one line.
package control

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Dir is the directory of the sockets: $XDG_RUNTIME_DIR/pitstop, else /tmp/pitstop-UID. It is
// created 0700; an existing one must belong to this user and let no one else in.
func Dir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("pitstop-%d", os.Getuid()))
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		dir = filepath.Join(rt, "pitstop")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("control: create the socket directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("control: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("control: %s is not a directory; remove it so pitstop can keep its sockets there", dir)
	case ok && int(st.Uid) != os.Getuid():
		return "", fmt.Errorf("control: %s belongs to user id %d, not to you: another user could answer in your place; remove it or set XDG_RUNTIME_DIR", dir, st.Uid)
	case fi.Mode().Perm()&0o077 != 0:
		return "", fmt.Errorf("control: %s is open to other users (mode %s); chmod 700 it", dir, fi.Mode().Perm())
	}
	return dir, nil
}

// SocketPath is the socket of the runs of one inventory: the argument given to -i ("demo" for the
// built-in demo), made absolute, names it. The name keeps the file's base name for people and a hash
// of its absolute path so that two inventories with one name differ.
func SocketPath(inventory string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, socketName(inventory)), nil
}

func socketName(inventory string) string {
	if inventory == "demo" {
		return "demo.sock"
	}
	abs, err := filepath.Abs(inventory)
	if err != nil {
		abs = inventory
	}
	sum := sha256.Sum256([]byte(abs))
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	var b strings.Builder
	for _, r := range base {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
		if b.Len() >= 32 {
			break
		}
	}
	return b.String() + "-" + hex.EncodeToString(sum[:5]) + ".sock"
}
