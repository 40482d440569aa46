package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesWhatIsNotASmallFile: devices, FIFOs, directories and files over 1 MiB are refused
// at once, without reading them (a FIFO without a writer would block a read forever, /dev/zero
// never ends).
func TestLoadRefusesWhatIsNotASmallFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "inv.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("name: x\n"+strings.Repeat("# padding\n", 2<<20/10)), 0o600); err != nil {
		t.Fatal(err)
	}
	limit := filepath.Join(dir, "limit.yaml")
	if err := os.WriteFile(limit, []byte(strings.Repeat("#", MaxFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		is         error
		want       string
	}{
		{"dev zero", "/dev/zero", ErrNotRegular, "/dev/zero: not a regular file (it is a character device)"},
		{"dev null", "/dev/null", ErrNotRegular, "(it is a character device)"},
		{"fifo", fifo, ErrNotRegular, "(it is a FIFO)"},
		{"directory", dir, ErrNotRegular, "(it is a directory)"},
		{"symlink to a device", link, ErrNotRegular, "(it is a character device)"},
		{"2 MiB", big, ErrTooLarge, "inventory file too large: 2097158 bytes, the limit is 1048576 (1 MiB)"},
		{"one byte over", limit, ErrTooLarge, "1048577 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Load(tc.path)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%s) = %v, want %v containing %q", tc.path, err, tc.is, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refusing took %v", d)
			}
		})
	}
	t.Run("exactly 1 MiB is read", func(t *testing.T) {
		src := []byte(base(t))
		pad := make([]byte, MaxFileBytes-len(src))
		for i := range pad {
			pad[i] = '#'
		}
		pad[len(pad)-1] = '\n'
		p := filepath.Join(dir, "full.yaml")
		if err := os.WriteFile(p, append(src, pad...), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err != nil {
			t.Fatalf("Load of a 1 MiB inventory: %v", err)
		}
	})
}

// TestUpstreamLimitAtLoad: a side whose rendered upstream file would exceed what the switch writes
// is refused at load, at the side's apps.
func TestUpstreamLimitAtLoad(t *testing.T) {
	_, err := Parse("big.yaml", genInventory(10_000))
	es := AsErrors(err)
	if len(es) != 2 {
		t.Fatalf("Parse of 10,000 hosts: %v, want one error per side", err)
	}
	for i, side := range []string{"production", "backup"} {
		if !strings.Contains(es[i].Msg, "the rendered upstream of the "+side+" side is") || !strings.Contains(es[i].Msg, "at most 102400") {
			t.Errorf("error %d: %s", i, es[i])
		}
		if es[i].Line < 20_000 {
			t.Errorf("error %d at line %d, want at sides.%s.apps near the end", i, es[i].Line, side)
		}
	}
	if _, err := Parse("ok.yaml", genInventory(2_000)); err != nil {
		t.Fatalf("2,000 hosts: %v", err)
	}
}

// TestUpstreamSizeIsTheRenderedFile: the size the limit check reports, counted while the sides are
// checked, is the length of the file Upstream renders, with server parameters, an app listed twice
// and one not in hosts.
func TestUpstreamSizeIsTheRenderedFile(t *testing.T) {
	src := string(genInventory(10_000))
	src = strings.Replace(src, "    serve: 10.0.0.7:8080\n", "    serve: 10.0.0.7:8080\n    server_params: weight=5  max_fails=2\n", 1)
	src = strings.Replace(src, "      - app-000008\n", "      - app-000008\n      - app-000008\n      - app-999999\n", 1)
	body, err := document("big.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	inv := &Inventory{}
	if err := decode(body, inv, aliasBudget([]byte(src))); err != nil {
		t.Fatal(err)
	}
	inv.Defaults()
	_, err = Parse("big.yaml", []byte(src))
	for _, side := range []Side{Production, Backup} {
		want := fmt.Sprintf("the rendered upstream of the %s side is %d bytes", side, len(inv.Upstream(side)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse: %v\nwant an error with %q", err, want)
		}
	}
}

// TestDuplicateKeysAnywhere: go.yaml.in/yaml/v3 keeps duplicate keys in a Node; Pitstop refuses them
// in large mappings (hosts), small ones (a host's fields) and under unknown fields.
func TestDuplicateKeysAnywhere(t *testing.T) {
	data := genInventory(100)
	src := strings.Replace(string(data), "  app-000050:\n", "  app-000007:\n", 1)
	_, err := Parse("d.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `mapping key "app-000007" already defined at [`) {
		t.Errorf("duplicate host: %v", err)
	}
	src = strings.Replace(string(data), "    serve: 10.0.0.9:8080\n", "    serve: 10.0.0.9:8080\n    ssh: again\n", 1)
	_, err = Parse("d.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `mapping key "ssh" already defined at [`) {
		t.Errorf("duplicate field: %v", err)
	}
	src = strings.Replace(string(data), "name: big\n", "name: big\nextra: {a: 1, a: 2}\n", 1)
	_, err = Parse("d.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `d.yaml:2:15: invalid YAML: mapping key "a" already defined at [2:9]`) {
		t.Errorf("duplicate under an unknown field: %v", err)
	}
}

// TestAliasBomb: aliases that nest into billions of values are refused quickly.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {ssh: local}\n")
	prev := "a0"
	for i := 1; i < 30; i++ {
		name := "a" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		b.WriteString(name + ": &" + name + " [*" + prev + ", *" + prev + "]\n")
		prev = name
	}
	src := "name: x\nhosts:\n  h:\n    <<: *" + prev + "\n" + b.String()
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted an alias bomb")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v", d)
	}
}

// TestMergeKeyDecodes: the values a merge brings are overridden by the keys written directly.
func TestMergeKeyDecodes(t *testing.T) {
	src := edit(t, base(t),
		"  app-p1:\n    ssh: deploy@10.0.1.11\n", "  app-p1: &p1\n    ssh: deploy@10.0.1.11\n",
		"  app-b1:\n    ssh: deploy@10.0.2.11:2222\n", "  app-b1:\n    <<: *p1\n")
	inv, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if h := inv.Hosts["app-b1"]; h.SSH != "deploy@10.0.1.11" || h.Serve != "10.0.2.11:8080" {
		t.Errorf("app-b1 = %+v, want ssh from the merge and its own serve", *h)
	}
}
