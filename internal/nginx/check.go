package nginx

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Check verifies, changing nothing, what a switch will need on the balancer host besides the config
// test: nginx's master and workers can be read from balancer.pid_file (the proof that a reload took
// effect depends on it), and the upstream file's directory is writable by the SSH user (the candidate
// is written there and renamed over the file). It returns the workers it saw, for the check's line.
func (b *Balancer) Check(ctx context.Context) (string, error) {
	w, err := b.readWorkers(ctx)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(b.file())
	if res, err := b.sh(ctx, "test -w "+shell.Quote(dir)); err != nil {
		return "", fmt.Errorf("the directory %s on %s is not writable for the SSH user (%w%s): a switch writes %s there and renames it over %s; give that user write access to it, or connect as a user who has it",
			dir, b.host(), err, res.tail(), filepath.Base(b.tmpFile()), filepath.Base(b.file()))
	}
	return w.String(), nil
}
