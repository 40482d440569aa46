package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/pitstop-ops/pitstop/internal/control"
)

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "status -i FILE [--json]", stderr)
	file := inventoryFlag(fs, "", "the inventory `FILE` the run was started with (\"demo\" for the demo)")
	asJSON := fs.Bool("json", false, "print the status as one JSON object (see docs/pairing-and-scripting.md)")
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	rep, code := ask("status", *file, control.Request{Op: "status"}, stderr)
	if rep == nil {
		return code
	}
	if *asJSON {
		(&jsonLines{w: stdout}).write(rep.Status)
		return exitOK
	}
	fmt.Fprint(stdout, rep.Status.Text())
	return exitOK
}

// ask sends req to the run of inventory file. On failure it prints why and returns a nil reply and the
// exit code: 1 when no run listens or the run refused.
func ask(cmd, file string, req control.Request, stderr io.Writer) (*control.Reply, int) {
	if file == "" {
		fmt.Fprintf(stderr, "pitstop %s: -i FILE is required: the inventory the run was started with (\"demo\" for the demo)\n", cmd)
		return nil, exitBadInput
	}
	path, err := control.SocketPath(file)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitFailed
	}
	rep, err := control.Ask(path, req)
	switch {
	case errors.Is(err, control.ErrNoRun):
		start := "pitstop run -i " + file
		if file == "demo" {
			start = "pitstop demo --headless (or in a terminal, pitstop demo)"
		}
		fmt.Fprintf(stderr, "pitstop %s: no run of %s is going on (nothing listens on %s); start one with %s\n", cmd, file, path, start)
		return nil, exitFailed
	case err != nil:
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return nil, exitFailed
	case !rep.OK:
		fmt.Fprintf(stderr, "pitstop %s: %s\n", cmd, rep.Error)
		return nil, exitFailed
	}
	return rep, exitOK
}
