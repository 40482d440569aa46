package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/report"
	"github.com/pitstop-ops/pitstop/inventory"
	"github.com/pitstop-ops/pitstop/steps"
)

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", "report JOURNAL [-o report.html] [--markdown] [-i FILE]", stderr)
	out := fs.String("o", "", "write the report to `FILE` (default: the journal's name with .html, or .md with --markdown)")
	md := fs.Bool("markdown", false, "write Markdown, with each chart as an SVG file beside it (for a ticket or a wiki)")
	invFile := inventoryFlag(fs, "", "the run's inventory `FILE`, to name the side behind each upstream address (optional)")
	// The journal may come before or after the flags.
	var journal string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		journal, args = args[0], args[1:]
	}
	if code := parseArgs(fs, args, stdout); code >= 0 {
		return code
	}
	if journal == "" && fs.NArg() == 1 {
		journal = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pitstop report: unexpected argument %q\n\n", fs.Arg(0))
		fs.Usage()
		return exitBadInput
	}
	if journal == "" {
		fmt.Fprintln(stderr, "pitstop report: give the run's JOURNAL file (pitstop run and demo print its path as they end)")
		return exitBadInput
	}
	events, err := steps.ReadJournal(journal)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop report: %v\n", err)
		return exitBadInput
	}
	if len(events) == 0 {
		fmt.Fprintf(stderr, "pitstop report: %s holds no events\n", journal)
		return exitBadInput
	}
	var inv *inventory.Inventory
	if *invFile != "" {
		if inv, _ = loadInventory("report", *invFile, stderr); inv == nil {
			return exitBadInput
		}
	}
	s := report.Build(events, journal, inv)
	path := *out
	if path == "" {
		ext := ".html"
		if *md {
			ext = ".md"
		}
		path = strings.TrimSuffix(journal, filepath.Ext(journal)) + ext
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop report: %v\n", err)
		return exitFailed
	}
	w := bufio.NewWriter(f)
	if *md {
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		dir := filepath.Join(filepath.Dir(path), base+"-charts")
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = s.Markdown(w, dir, base+"-charts")
		}
	} else {
		err = s.HTML(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "pitstop report: writing %s: %v\n", path, err)
		return exitFailed
	}
	fmt.Fprintln(stdout, "report:", path)
	return exitOK
}

// parseArgs is parse for commands that take arguments: what follows the flags stays in fs.Args.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) int {
	stderr := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(stderr)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "pitstop %s: %v\n\n", fs.Name(), err)
		fs.Usage()
		return exitBadInput
	}
	return -1
}
