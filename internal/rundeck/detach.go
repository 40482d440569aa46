package rundeck

import (
	"context"

	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

var _ steps.DetachedRunner = (*Runner)(nil)

// RunDetached runs a Rundeck job as Run does (an execution runs on Rundeck's side whatever happens to
// Pitstop), and hands every other command to Next's detached mode when it has one, so that wrapping
// the SSH pool for Rundeck does not take away commands that outlive Pitstop (see steps.DetachedRunner).
func (r *Runner) RunDetached(ctx context.Context, host, id, command string, out steps.OutputFunc) error {
	if _, ok, _ := inventory.ParseRundeckJob(command); ok {
		return r.Run(ctx, host, command, out)
	}
	if d, ok := r.Next.(steps.DetachedRunner); ok {
		return d.RunDetached(ctx, host, id, command, out)
	}
	return r.Next.Run(ctx, host, command, out)
}
