package demo

import (
	"fmt"
	"strings"
)

// Fault is a failure the demo world injects so operators can rehearse what Pitstop does when
// something goes wrong.
type Fault string

// The faults the demo world can inject.
const (
	// FaultNone injects nothing.
	FaultNone Fault = ""
	// FaultNginxTest makes the first balancer switch fail at the `nginx -t` stage.
	FaultNginxTest Fault = "nginx-test"
	// FaultUpgradeFail makes the package install on the first production app host exit 100 once.
	FaultUpgradeFail Fault = "upgrade-fail"
	// FaultSSHDrop drops the SSH connection to the first production app host during its second
	// upgrade command, once.
	FaultSSHDrop Fault = "ssh-drop"
	// FaultLagSpike starts the backup standby about 200 MB behind production.
	FaultLagSpike Fault = "lag-spike"
	// FaultStandbyDown leaves the backup standby disconnected: the preflight stops the plan.
	FaultStandbyDown Fault = "standby-down"
)

// FaultInfo names a fault and says in one line what it does, for --help.
type FaultInfo struct {
	Fault       Fault
	Description string
}

// Faults lists every injectable fault with a one-line description, in the order --help shows them.
func Faults() []FaultInfo {
	return []FaultInfo{
		{FaultNginxTest, "the first balancer switch fails at `nginx -t`; the previous upstream stays live, a retry works"},
		{FaultUpgradeFail, "the package install on the first production app host exits 100 (dpkg lock held); a retry works"},
		{FaultSSHDrop, "the SSH connection to the first production app host drops during its second upgrade command"},
		{FaultLagSpike, "the backup standby starts ~200 MB behind and needs 20–40 s to catch up before the sync gate opens"},
		{FaultStandbyDown, "the backup standby is not streaming (walreceiver down); the preflight stops the plan before anything changes"},
	}
}

// ParseFault parses a fault name as given to --fault. "" and "none" mean FaultNone.
func ParseFault(s string) (Fault, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" || name == "none" {
		return FaultNone, nil
	}
	names := make([]string, 0, len(Faults()))
	for _, f := range Faults() {
		if string(f.Fault) == name {
			return f.Fault, nil
		}
		names = append(names, string(f.Fault))
	}
	return FaultNone, fmt.Errorf("unknown demo fault %q: valid faults are %s (or none)", s, strings.Join(names, ", "))
}
