// Package flagusage prints a flag set's flags the way Pitstop's usage lines write them: long flags
// as --name, one-letter flags as -x, so that --help and the synopsis agree. The standard library's
// PrintDefaults writes every flag with one dash (-auto-approve), which the synopsis never shows.
package flagusage

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Name is how a flag is written on the command line: -i for one letter, --name otherwise.
func Name(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// Print writes every flag of fs to w, sorted by name, one entry each: the flag and its value's name on
// one line, its usage indented below, with the default when it is not the zero value.
func Print(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  " + Name(f.Name)
		if arg != "" {
			line += " " + arg
		}
		usage = strings.ReplaceAll(usage, "\n", "\n    \t")
		if def := f.DefValue; !isZero(f, def) {
			if looksLikeText(f) {
				def = fmt.Sprintf("%q", def)
			}
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, usage)
	})
}

// isZero reports whether def is the zero value of f's type, as the flag package decides whether to
// show a default.
func isZero(f *flag.Flag, def string) bool {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	if zv, ok := z.Interface().(flag.Value); ok {
		return def == zv.String()
	}
	return def == "" || def == "0" || def == "false"
}

// looksLikeText reports whether f holds a string, whose default is shown quoted.
func looksLikeText(f *flag.Flag) bool {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, s := g.Get().(string)
	return s
}
