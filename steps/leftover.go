package steps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/inventory"
)

// appsLeft checks every app host directly at the end of a run that did not finish, and says which
// are left stopped (their check fails) and which sides run a mix of versions, naming each host: an
// operator picking up the pieces must not have to find them host by host.
func (e *Engine) appsLeft(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var out []string
	for _, side := range []inventory.Side{inventory.Production, inventory.Backup} {
		apps := e.inv.Sides.Get(side).Apps
		checks := make([]HostCheck, len(apps))
		errs := make([]error, len(apps))
		done := make(chan struct{}, len(apps))
		for i, h := range apps {
			go func() {
				defer func() { done <- struct{}{} }()
				errs[i] = safely("checking "+h, func() (err error) { checks[i], err = e.world.Probe.Check(ctx, h); return err })
			}()
		}
		for range apps {
			<-done
		}
		versions := map[string][]string{} // version → hosts
		for i, h := range apps {
			c := checks[i]
			switch {
			case errs[i] != nil:
				out = append(out, fmt.Sprintf("app host %s (%s) does not answer its direct check (%v): it is stopped or broken; start it, or finish its upgrade, before users are sent to %s", h, side, errs[i], side))
			case !c.OK:
				out = append(out, fmt.Sprintf("app host %s (%s) fails its direct check (%s): it is stopped or broken; start it, or finish its upgrade, before users are sent to %s", h, side, c.Err, side))
			default:
				versions[c.Version] = append(versions[c.Version], h)
			}
		}
		if len(versions) > 1 {
			var parts []string
			for _, v := range slices.Sorted(maps.Keys(versions)) {
				parts = append(parts, fmt.Sprintf("%s on %s", strings.Join(versions[v], ", "), orUnknown(v)))
			}
			out = append(out, fmt.Sprintf("the %s side runs mixed versions: %s; finish the upgrade on the hosts not on %s before users are sent there", side, strings.Join(parts, "; "), e.inv.Upgrade.Version))
		}
	}
	return out
}

func orUnknown(v string) string {
	if v == "" {
		return "an unknown version"
	}
	return v
}
