package shell

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// shells are the POSIX shells a quoted value must survive; /bin/sh (dash on Debian) is the one that runs
// commands on hosts, bash is what many login shells are.
var shells = []string{"sh", "bash"}

// printed runs `SHELL -c "printf %s QUOTED"` and returns what the shell printed.
func printed(t testing.TB, shellName, s string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shellName, "-c", "printf %s "+Quote(s))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v (stderr %q)", shellName, "printf %s "+Quote(s), err, stderr.String())
	}
	return string(out)
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"plain", "plain"},
		{"a/b-c_d.e:f=g@h,i+j%k", "a/b-c_d.e:f=g@h,i+j%k"},
		{"two words", "'two words'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"~", "'~'"},
		{"\xff", "'\xff'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	if got, want := Join("ls", "-l", "my file", "it's"), `ls -l 'my file' 'it'\''s'`; got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
}

// FuzzQuoteRoundTrip proves that every string without NUL reaches printf as one literal argument:
// `sh -c "printf %s "+Quote(s)` prints exactly s. (NUL cannot be in an exec argument at all.)
func FuzzQuoteRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", " ", "'", "''", `\`, `\'`, "a'b", "$HOME", "${x}", "$(id)", "`id`", "\n", "a\nb", "\t",
		"-n", "--", "-", "%s", "%%", "%b", "\\n", "!", "!!", "~", "~root", "*", "?", "[a]", "{a,b}", "a=b",
		"#", "a #b", ";", "&", "|", "<", ">", "(", ")", `"`, "\x01", "\xff", "é", "日本", "\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot be passed in a command line")
		}
		for _, sh := range shells {
			if got := printed(t, sh, s); got != s {
				t.Fatalf("%s -c %q printed %q, want %q", sh, "printf %s "+Quote(s), got, s)
			}
		}
	})
}
