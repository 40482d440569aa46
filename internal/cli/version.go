package cli

import (
	"fmt"
	"io"
	"runtime/debug"
)

// buildInfo is what `pitstop version` says about the binary: the module version and the VCS revision
// the go command stamped into it (go build in a checkout stamps vcs.revision, vcs.time, vcs.modified).
type buildInfo struct {
	Version   string // the -ldflags version, else the module's version
	Module    string // the main module's path and version, e.g. "github.com/pitstop-ops/pitstop (devel)"
	Revision  string
	Time      string
	Modified  bool
	GoVersion string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	b.Module = bi.Main.Path + " " + bi.Main.Version
	if v := bi.Main.Version; version == defaultVersion && v != "" && v != "(devel)" {
		b.Version = v // go install …@v1.2.3 stamps the tag
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version", stderr)
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	b := readBuildInfo()
	fmt.Fprintln(stdout, "pitstop", b.Version)
	if b.Module != "" {
		fmt.Fprintln(stdout, "module  ", b.Module)
	}
	rev := "unknown (not built from a git checkout with go build)"
	if b.Revision != "" {
		rev = b.Revision
		if b.Time != "" {
			rev += " (" + b.Time + ")"
		}
		if b.Modified {
			rev += " with uncommitted changes"
		}
	}
	fmt.Fprintln(stdout, "revision", rev)
	if b.GoVersion != "" {
		fmt.Fprintln(stdout, "go      ", b.GoVersion)
	}
	return exitOK
}
