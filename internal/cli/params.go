package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/remote"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

// setFlag collects --set name=value, repeatable, in order.
type setFlag struct {
	names, values []string
}

func (s *setFlag) String() string { return "" }

// Set takes one name=value.
func (s *setFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("%q: write name=value, e.g. --set version=5.2.0", v)
	}
	s.names = append(s.names, name)
	s.values = append(s.values, value)
	return nil
}

// apply sets every parameter on inv (a later --set of the same name wins) and returns them, for the
// journal. An unknown name is an error that suggests the closest known one.
func (s *setFlag) apply(inv *inventory.Inventory) (map[string]string, error) {
	if len(s.names) == 0 {
		return nil, nil
	}
	params := map[string]string{}
	for i, name := range s.names {
		if err := inv.Set(name, s.values[i]); err != nil {
			return nil, err
		}
		params[name] = s.values[i]
	}
	return params, nil
}

const setUsage = "override a run parameter for this run: `NAME=VALUE`, NAME being version (upgrade.version) or a name under vars:; repeatable"

// readLiveUpstream fills plan's switch diffs from the balancer's live upstream file when it can be
// read within a few seconds (read-only: the file travels base64-encoded through cat's equivalent);
// otherwise it labels them as rendered from the inventory, saying why.
func readLiveUpstream(inv *inventory.Inventory, plan *steps.Plan) {
	if inv.Source == "demo" {
		return // the demo's balancer is simulated: its file is the rendered one
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	pool := remote.New(inv, remote.Options{})
	defer pool.Close()
	b := nginx.New(inv, pool, nil)
	live, err := b.LiveFile(ctx)
	if err == nil {
		err = plan.UseLiveUpstream(inv, live, inv.Balancer.Host)
	}
	if err != nil {
		plan.MarkRendered(fmt.Sprintf("the balancer's file could not be read: %s", oneLine(err)))
	}
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// paramsLine is " with a=1, b=2" in name order.
func paramsLine(params map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(params) {
		parts = append(parts, " "+k+"="+params[k])
	}
	return " with" + strings.Join(parts, ",")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
