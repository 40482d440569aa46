package flagusage

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestPrint(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("i", "", "inventory `FILE`")
	fs.Bool("auto-approve", false, "no screen")
	fs.Int("parallel", 10, "how many hosts")
	fs.String("plan", "readonly", "plan `NAME`")
	fs.Duration("every", time.Second, "how often")
	var b bytes.Buffer
	Print(&b, fs)
	got := b.String()
	for _, want := range []string{
		"  -i FILE\n    \tinventory FILE\n",
		"  --auto-approve\n    \tno screen\n",
		"  --parallel int\n    \thow many hosts (default 10)\n",
		"  --plan NAME\n    \tplan NAME (default \"readonly\")\n",
		"  --every duration\n    \thow often (default 1s)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("usage lacks %q:\n%s", want, got)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "  -") && !strings.HasPrefix(l, "  --") && !strings.HasPrefix(l, "  -i ") {
			t.Errorf("a long flag is written with one dash: %q", l)
		}
	}
}
