package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pitstop-ops/pitstop/demo"
	"github.com/pitstop-ops/pitstop/steps"
)

// commands lists pitstop's commands with one line each, for completion. Each command's flags are
// read from its own --help, so a new flag is completed without touching this file.
var commands = []struct{ name, about string }{
	{"demo", "rehearse on the simulated demo shop"},
	{"run", "drive the upgrade on real hosts"},
	{"plan", "print every step and command; changes nothing"},
	{"check", "preflight: reachability, host keys, nginx, databases"},
	{"watch", "print replication lag and what users see"},
	{"switch", "send users to production or backup"},
	{"rehearse", "migrate a copy of production's database; predict the window"},
	{"discover", "draft an inventory from nginx and PostgreSQL"},
	{"import", "draft an inventory from Rundeck or Ansible nodes"},
	{"export", "print a Rundeck job that runs a plan headless"},
	{"status", "where a running plan is, from another terminal"},
	{"approve", "confirm the gate a running plan waits at"},
	{"decline", "say no at the gate a running plan waits at"},
	{"retry", "retry the failed step a running plan waits at"},
	{"skip", "skip the step a running plan waits at"},
	{"rollback", "roll a running plan back to the previous upstream"},
	{"abort", "abort a running plan at its gate"},
	{"report", "write a session report from a journal"},
	{"lab", "a real local lab on loopback"},
	{"completion", "print a shell completion script"},
	{"version", "print the version and VCS revision"},
	{"help", "show a command's flags"},
}

var labCommands = []string{"up", "down", "status", "bench"}

var shells = []string{"bash", "zsh", "fish"}

// firstArgs are the words a command takes before its flags.
var firstArgs = map[string][]string{"import": {"rundeck", "ansible"}, "export": {"rundeck"}}

func cmdCompletion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("completion", "completion bash|zsh|fish", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: pitstop completion bash|zsh|fish

Prints a completion script for the shell. Load it now, or at every start:
  bash:  source <(pitstop completion bash)          or  pitstop completion bash > ~/.local/share/bash-completion/completions/pitstop
  zsh:   source <(pitstop completion zsh)           or  pitstop completion zsh > "${fpath[1]}/_pitstop"
  fish:  pitstop completion fish | source           or  pitstop completion fish > ~/.config/fish/completions/pitstop.fish
`)
	}
	if len(args) == 1 && args[0] != "-h" && args[0] != "--help" {
		switch args[0] {
		case "bash":
			fmt.Fprint(stdout, bashCompletion())
		case "zsh":
			fmt.Fprint(stdout, zshCompletion())
		case "fish":
			fmt.Fprint(stdout, fishCompletion())
		default:
			fmt.Fprintf(stderr, "pitstop completion: unknown shell %q; give bash, zsh or fish\n", args[0])
			return exitBadInput
		}
		return exitOK
	}
	if code := parse(fs, args, stdout); code >= 0 {
		return code
	}
	fmt.Fprintln(stderr, "pitstop completion: say which shell: bash, zsh or fish")
	return exitBadInput
}

// flagOf is one flag as a command's --help shows it.
type flagOf struct {
	name  string // without dashes
	value bool   // takes a value
	about string
}

// flagsOf reads the flags of `pitstop ARGS --help`.
func flagsOf(args ...string) []flagOf {
	var out bytes.Buffer
	Run(append(args, "--help"), &out, io.Discard)
	var flags []flagOf
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		f := strings.Fields(l)
		fl := flagOf{name: strings.TrimLeft(f[0], "-"), value: len(f) > 1}
		if i+1 < len(lines) {
			fl.about = strings.TrimSpace(lines[i+1])
		}
		flags = append(flags, fl)
	}
	return flags
}

// flagValues lists the fixed values some flags take.
func flagValues() map[string][]string {
	faults := []string{}
	for _, f := range demo.Faults() {
		faults = append(faults, string(f.Fault))
	}
	return map[string][]string{
		"plan":  steps.PlanNames(),
		"fault": faults,
		"to":    {"production", "backup"},
	}
}

// fileFlags take a file or a directory.
var fileFlags = []string{"i", "journal", "o", "dir"}

func dashed(fs []flagOf) string {
	var out []string
	for _, f := range fs {
		if len(f.name) == 1 {
			out = append(out, "-"+f.name)
		} else {
			out = append(out, "--"+f.name)
		}
	}
	return strings.Join(out, " ")
}

func commandNames() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, " ")
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for pitstop; load with: source <(pitstop completion bash)
_pitstop() {
    local cur prev cmd opts
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd="${COMP_WORDS[1]}"
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "` + commandNames() + `" -- "$cur"))
        return
    fi
    case "$prev" in
`)
	vals := flagValues()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "        --%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", k, strings.Join(vals[k], " "))
	}
	b.WriteString(`        -i|--inventory) COMPREPLY=($(compgen -f -- "$cur") $(compgen -W demo -- "$cur")); return ;;
        --journal|-o|--dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$cmd" in
`)
	for _, c := range commands {
		switch c.name {
		case "lab":
			b.WriteString("        lab)\n            if [[ $COMP_CWORD -eq 2 ]]; then opts=\"" + strings.Join(labCommands, " ") + "\"; else case \"${COMP_WORDS[2]}\" in\n")
			for _, sub := range labCommands {
				fmt.Fprintf(&b, "                %s) opts=%q ;;\n", sub, dashed(flagsOf("lab", sub)))
			}
			b.WriteString("            esac; fi ;;\n")
		case "completion":
			fmt.Fprintf(&b, "        completion) opts=%q ;;\n", strings.Join(shells, " "))
		case "help":
			fmt.Fprintf(&b, "        help) opts=%q ;;\n", commandNames())
		default:
			if first := firstArgs[c.name]; first != nil {
				fmt.Fprintf(&b, "        %s) if [[ $COMP_CWORD -eq 2 ]]; then opts=%q; else opts=%q; fi ;;\n", c.name, strings.Join(first, " "), dashed(flagsOf(c.name)))
				continue
			}
			fmt.Fprintf(&b, "        %s) opts=%q ;;\n", c.name, dashed(flagsOf(c.name)))
		}
	}
	b.WriteString(`    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _pitstop pitstop
`)
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString("#compdef pitstop\n# zsh completion for pitstop; load with: source <(pitstop completion zsh)\n_pitstop() {\n    local -a cmds opts\n    cmds=(\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "        %s\n", zshQuote(c.name+":"+c.about))
	}
	b.WriteString("    )\n    if (( CURRENT == 2 )); then _describe 'command' cmds; return; fi\n    case ${words[CURRENT-1]} in\n")
	vals := flagValues()
	for _, k := range []string{"plan", "fault", "to"} {
		fmt.Fprintf(&b, "        --%s) compadd -- %s; return ;;\n", k, strings.Join(vals[k], " "))
	}
	b.WriteString("        -i|--inventory) compadd demo; _files; return ;;\n        --journal|-o|--dir) _files; return ;;\n    esac\n    case ${words[2]} in\n")
	for _, c := range commands {
		switch c.name {
		case "lab":
			b.WriteString("        lab) if (( CURRENT == 3 )); then opts=(" + strings.Join(labCommands, " ") + "); else case ${words[3]} in\n")
			for _, sub := range labCommands {
				fmt.Fprintf(&b, "            %s) opts=(%s) ;;\n", sub, dashed(flagsOf("lab", sub)))
			}
			b.WriteString("        esac; fi ;;\n")
		case "completion":
			fmt.Fprintf(&b, "        completion) opts=(%s) ;;\n", strings.Join(shells, " "))
		case "help":
			fmt.Fprintf(&b, "        help) opts=(%s) ;;\n", commandNames())
		default:
			if first := firstArgs[c.name]; first != nil {
				fmt.Fprintf(&b, "        %s) if (( CURRENT == 3 )); then opts=(%s); else opts=(%s); fi ;;\n", c.name, strings.Join(first, " "), dashed(flagsOf(c.name)))
				continue
			}
			fmt.Fprintf(&b, "        %s) opts=(%s) ;;\n", c.name, dashed(flagsOf(c.name)))
		}
	}
	b.WriteString("    esac\n    compadd -- $opts\n    _files\n}\nif [ \"$funcstack[1]\" = \"_pitstop\" ]; then _pitstop \"$@\"; else compdef _pitstop pitstop; fi\n")
	return b.String()
}

func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for pitstop; load with: pitstop completion fish | source\ncomplete -c pitstop -f\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "complete -c pitstop -n __fish_use_subcommand -a %s -d %s\n", c.name, zshQuote(c.about))
	}
	vals := flagValues()
	emit := func(cond string, fs []flagOf) {
		for _, f := range fs {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			extra := ""
			switch {
			case vals[f.name] != nil:
				extra = " -x -a " + zshQuote(strings.Join(vals[f.name], " "))
			case f.name == "i" || f.name == "inventory":
				extra = " -r -F -a demo"
			case contains(fileFlags, f.name):
				extra = " -r -F"
			case f.value:
				extra = " -x"
			}
			fmt.Fprintf(&b, "complete -c pitstop -n %s %s%s -d %s\n", zshQuote(cond), opt, extra, zshQuote(firstSentence(f.about)))
		}
	}
	for _, c := range commands {
		switch c.name {
		case "lab":
			fmt.Fprintf(&b, "complete -c pitstop -n '__fish_seen_subcommand_from lab; and not __fish_seen_subcommand_from %s' -a %s\n", strings.Join(labCommands, " "), zshQuote(strings.Join(labCommands, " ")))
			for _, sub := range labCommands {
				emit("__fish_seen_subcommand_from lab; and __fish_seen_subcommand_from "+sub, flagsOf("lab", sub))
			}
		case "completion":
			fmt.Fprintf(&b, "complete -c pitstop -n '__fish_seen_subcommand_from completion' -a %s\n", zshQuote(strings.Join(shells, " ")))
		case "help":
			fmt.Fprintf(&b, "complete -c pitstop -n '__fish_seen_subcommand_from help' -a %s\n", zshQuote(commandNames()))
		case "report":
			emit("__fish_seen_subcommand_from report", flagsOf(c.name))
			b.WriteString("complete -c pitstop -n '__fish_seen_subcommand_from report' -F\n")
		default:
			if first := firstArgs[c.name]; first != nil {
				fmt.Fprintf(&b, "complete -c pitstop -n '__fish_seen_subcommand_from %s' -a %s\n", c.name, zshQuote(strings.Join(first, " ")))
			}
			emit("__fish_seen_subcommand_from "+c.name, flagsOf(c.name))
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func firstSentence(s string) string {
	if i := strings.IndexAny(s, ":;("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
