package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pitstop-ops/pitstop/internal/importer"
)

// cmdImport is `pitstop import rundeck|ansible FILE`: it prints (or writes with -o) an inventory
// drafted from a Rundeck resource model or an Ansible inventory.
func cmdImport(args []string, stdout, stderr io.Writer) int {
	const synopsis = "import rundeck|ansible FILE [--production SEL --backup SEL --database SEL --balancer NAME] [-o FILE [--force]]"
	var opt importer.Options
	var out string
	var force bool
	fs := newFlagSet("import", synopsis, stderr)
	fs.StringVar(&opt.Production, "production", "", "the production side's nodes: `SELECTOR`, a Rundeck tag or an Ansible group")
	fs.StringVar(&opt.Backup, "backup", "", "the backup side's nodes: `SELECTOR`, a Rundeck tag or an Ansible group")
	fs.StringVar(&opt.Database, "database", "", "within each side, its database hosts: `SELECTOR`, a Rundeck tag or an Ansible group (the first is the side's database, the others its replicas)")
	fs.StringVar(&opt.Balancer, "balancer", "", "the nginx node: its `NAME`, or a tag or group with exactly one node")
	fs.StringVar(&out, "o", "", "write the inventory to `FILE` instead of printing it")
	fs.BoolVar(&force, "force", false, "with -o, overwrite FILE if it exists")
	pos, code := parseInterleaved(fs, args, stdout)
	if code >= 0 {
		return code
	}
	if len(pos) != 2 || (pos[0] != "rundeck" && pos[0] != "ansible") {
		fmt.Fprintf(stderr, "pitstop import: give the source's kind and file: pitstop import rundeck FILE, or pitstop import ansible FILE\n\n")
		fs.Usage()
		return exitBadInput
	}
	kind, file := pos[0], pos[1]
	read := importer.ReadRundeck
	if kind == "ansible" {
		read = importer.ReadAnsible
	}
	src, err := read(file)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop import: %v\n", err)
		return exitBadInput
	}
	opt.Command = "pitstop import " + strings.Join(args, " ")
	draft, err := importer.Build(src, opt)
	if err != nil {
		fmt.Fprintf(stderr, "pitstop import: %v\n", err)
		return exitBadInput
	}
	return writeDraft("import", draft, out, force, stdout, stderr)
}

// writeDraft prints the draft, or writes it to out (refusing to overwrite a file without force), and
// says on stderr how many TODOs are left.
func writeDraft(cmd string, d *importer.Draft, out string, force bool, stdout, stderr io.Writer) int {
	var b bytes.Buffer
	if err := d.Render(&b); err != nil {
		fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
		return exitFailed
	}
	name := out
	if out == "" {
		stdout.Write(b.Bytes())
		name = "the inventory"
	} else {
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(out, flags, 0o644)
		if errors.Is(err, os.ErrExist) {
			fmt.Fprintf(stderr, "pitstop %s: %s exists; choose another -o FILE, or add --force to overwrite it\n", cmd, out)
			return exitBadInput
		}
		if err != nil {
			fmt.Fprintf(stderr, "pitstop %s: %v\n", cmd, err)
			return exitFailed
		}
		_, err = f.Write(b.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintf(stderr, "pitstop %s: write %s: %v\n", cmd, out, err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "pitstop %s: wrote %s\n", cmd, out)
	}
	if n := d.TODOs(); n > 0 {
		fmt.Fprintf(stderr, "pitstop %s: %d values are TODO in %s; fill them in, then `pitstop plan -i FILE` lists any left, by line\n", cmd, n, name)
	}
	return exitOK
}

// parseInterleaved parses flags that may come before, between or after positional arguments, and
// returns the positional ones; the code is -1 to go on.
func parseInterleaved(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, int) {
	var pos []string
	stderr := fs.Output()
	for {
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.SetOutput(stdout)
			fs.Usage()
			fs.SetOutput(stderr)
			return nil, exitOK
		case err != nil:
			fmt.Fprintf(stderr, "pitstop %s: %v\n\n", fs.Name(), err)
			fs.Usage()
			return nil, exitBadInput
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
