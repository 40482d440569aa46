package steps

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// safely runs f, one of the engine's calls into a port (an adapter or the demo world), and turns a
// panic there into an error. A crash in a goroutine would end the process with the terminal left in
// the cockpit's raw mode and the balancer wherever it was; as an error it fails the step, the gate
// offers retry, rollback and abort, and the final message says where things are left.
func safely(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			stack := strings.TrimSpace(string(debug.Stack()))
			err = fmt.Errorf("pitstop bug: %s panicked: %v — please report it with the journal; stack:\n%s", what, r, stack)
		}
	}()
	return f()
}
