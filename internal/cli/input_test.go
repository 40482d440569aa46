package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInventoryMustBeASmallFile: -i on a device, a FIFO or a 2 MiB file exits 2 at once with a
// message that says what an inventory must be.
func TestInventoryMustBeASmallFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "inv.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (it is a character device); give the inventory as a regular YAML file of at most 1 MiB"},
		{fifo, "not a regular file (it is a FIFO)"},
		{big, "inventory file too large: 2097152 bytes, the limit is 1048576 (1 MiB)"},
	} {
		for _, cmd := range []string{"plan", "run", "check"} {
			t.Run(cmd+" "+filepath.Base(tc.path), func(t *testing.T) {
				start := time.Now()
				code, _, errOut := runCLI(t, cmd, "-i", tc.path, "--auto-approve")
				if cmd != "run" {
					code, _, errOut = runCLI(t, cmd, "-i", tc.path)
				}
				if code != exitBadInput || !strings.Contains(errOut, tc.want) {
					t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
	}
}
