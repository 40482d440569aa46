package discover

import (
	"fmt"
	"strings"
)

// The dump of `nginx -T` is every configuration file nginx loaded, each after a line
// "# configuration file PATH:". Each file is parsed on its own into directives: enough to find an
// upstream block, its servers, the server blocks that proxy to it, and the pid directive.

// confFile is one file of the dump.
type confFile struct {
	Path string
	Text string
	// Directives are the file's top-level directives.
	Directives []*directive
}

// directive is one nginx directive: name, arguments, and a block's children.
type directive struct {
	Name     string
	Args     []string
	Block    []*directive
	HasBlock bool
	File     string
	Line     int
	// Comment is a comment on the same line after the directive (Pitstop writes "# host" there).
	Comment string
}

// splitDump cuts nginx -T's standard output into files.
func splitDump(out string) []*confFile {
	var files []*confFile
	var cur *confFile
	var b strings.Builder
	flush := func() {
		if cur != nil {
			cur.Text = b.String()
			files = append(files, cur)
		}
		b.Reset()
	}
	for _, l := range strings.SplitAfter(out, "\n") {
		t := strings.TrimRight(l, "\r\n")
		if p, ok := strings.CutPrefix(t, "# configuration file "); ok && strings.HasSuffix(p, ":") {
			flush()
			cur = &confFile{Path: strings.TrimSuffix(p, ":")}
			continue
		}
		if cur != nil {
			b.WriteString(l)
		}
	}
	flush()
	return files
}

// parseConf parses one file's text; errors name the file and line.
func parseConf(f *confFile) error {
	p := &confParser{file: f.Path, src: f.Text, line: 1}
	ds, err := p.block(false)
	f.Directives = ds
	return err
}

type confParser struct {
	file string
	src  string
	pos  int
	line int
	last *directive // the directive just closed by ';' or '}', for a trailing comment
}

// token returns the next word, or one of ";", "{", "}"; "" at the end.
func (p *confParser) token() (tok string, line int, err error) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
			p.last = nil
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '#':
			end := strings.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				end = len(p.src) - p.pos
			}
			if p.last != nil {
				p.last.Comment = strings.TrimSpace(p.src[p.pos+1 : p.pos+end])
			}
			p.pos += end
		case c == ';' || c == '{' || c == '}':
			p.pos++
			return string(c), p.line, nil
		case c == '"' || c == '\'':
			start, l := p.pos+1, p.line
			for i := start; i < len(p.src); i++ {
				switch p.src[i] {
				case '\\':
					i++
				case '\n':
					p.line++
				case c:
					p.pos = i + 1
					return p.src[start:i], l, nil
				}
			}
			return "", l, fmt.Errorf("%s:%d: a %c quote is not closed", p.file, l, c)
		default:
			start := p.pos
			for p.pos < len(p.src) && !strings.ContainsRune(" \t\r\n;{}#\"'", rune(p.src[p.pos])) {
				p.pos++
			}
			return p.src[start:p.pos], p.line, nil
		}
	}
	return "", p.line, nil
}

func (p *confParser) block(nested bool) ([]*directive, error) {
	var out []*directive
	var cur *directive
	for {
		tok, line, err := p.token()
		if err != nil {
			return out, err
		}
		switch tok {
		case "":
			if nested || cur != nil {
				return out, fmt.Errorf("%s:%d: the file ends inside a directive or block", p.file, line)
			}
			return out, nil
		case ";":
			if cur == nil {
				continue
			}
			out = append(out, cur)
			p.last, cur = cur, nil
		case "{":
			if cur == nil {
				return out, fmt.Errorf("%s:%d: a block opens without a directive", p.file, line)
			}
			d := cur
			cur = nil
			d.HasBlock = true
			if d.Block, err = p.block(true); err != nil {
				return out, err
			}
			out = append(out, d)
			p.last = nil
		case "}":
			if !nested {
				return out, fmt.Errorf("%s:%d: } closes no block", p.file, line)
			}
			return out, nil
		default:
			if cur == nil {
				cur = &directive{Name: tok, File: p.file, Line: line}
			} else {
				cur.Args = append(cur.Args, tok)
			}
		}
	}
}

// walk calls fn for every directive of ds, depth first, with its enclosing blocks.
func walk(ds []*directive, parents []*directive, fn func(d *directive, parents []*directive)) {
	for _, d := range ds {
		fn(d, parents)
		if d.HasBlock {
			walk(d.Block, append(parents, d), fn)
		}
	}
}
