package nginx

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/internal/nginx/nginxtest"
	"github.com/pitstop-ops/pitstop/inventory"
)

// fileInventory is a two-side inventory whose upstream file is file; no program runs behind it.
func fileInventory(file string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Source:   "test",
		Balancer: inventory.Balancer{Host: "lb", Upstream: "app", File: file},
		Hosts: map[string]*inventory.Host{
			"lb": {SSH: "local"},
			"p1": {SSH: "local", Serve: "10.0.0.1:8080"},
			"p2": {SSH: "local", Serve: "10.0.0.2:8080"},
			"b1": {SSH: "local", Serve: "10.0.1.1:8080"},
		},
		Sides: inventory.Sides{
			Production: inventory.SideSpec{Apps: []string{"p1", "p2"}},
			Backup:     inventory.SideSpec{Apps: []string{"b1"}},
		},
	}
	inv.Defaults()
	return inv
}

func TestLive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "upstream.conf")
	inv := fileInventory(file)
	b := New(inv, nginxtest.LocalRunner{}, nil)
	tests := []struct {
		name    string
		content string
		want    inventory.Side
		errs    []string // each must appear in the error
	}{
		{name: "rendered production", content: inv.Upstream(inventory.Production), want: inventory.Production},
		{name: "rendered backup", content: inv.Upstream(inventory.Backup), want: inventory.Backup},
		{name: "hand written, one line, params", content: "upstream app { server 10.0.1.1:8080 max_fails=3 weight=2; keepalive 16; }", want: inventory.Backup},
		{name: "down server ignored", content: "upstream app {\n server 10.0.0.1:8080;\n server 10.0.1.1:8080 down;\n}\n", want: inventory.Production},
		{name: "commented server ignored", content: "upstream app {\n server 10.0.0.2:8080;\n # server 10.0.1.1:8080;\n}\n", want: inventory.Production},
		{name: "other blocks ignored", content: "upstream other { server 10.0.1.1:8080; }\nupstream app { server 10.0.0.1:8080; }\n", want: inventory.Production},
		{name: "mixed", content: "upstream app { server 10.0.0.1:8080; server 10.0.1.1:8080; }",
			errs: []string{file, "mixes both sides", "10.0.0.1:8080 (production)", "10.0.1.1:8080 (backup)"}},
		{name: "unknown server", content: "upstream app { server 10.9.9.9:80; }",
			errs: []string{file, "10.9.9.9:80 (no app host of the inventory serves there)"}},
		{name: "other upstream name", content: "upstream web { server 10.0.0.1:8080; }",
			errs: []string{file, `defines upstream web but not "app"`}},
		{name: "no servers", content: "upstream app { server 10.0.0.1:8080 down; }",
			errs: []string{file, "no server that is not marked down"}},
		{name: "empty", content: "", errs: []string{file, "no upstream block", "empty"}},
		{name: "garbage", content: "hello world\n", errs: []string{file, `"hello world"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(file, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := b.Live(context.Background())
			if len(tt.errs) == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("Live = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Live = %q, want an error", got)
			}
			for _, s := range tt.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestLiveMissingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nope.conf")
	_, err := New(fileInventory(file), nginxtest.LocalRunner{}, nil).Live(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read upstream file "+file+" on lb") || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("Live on a missing file: %v", err)
	}
}

// The content reaches the file byte for byte whatever it holds, the previous content is kept, and no
// temp file is left behind.
func TestWriteIsExactAndAtomic(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "up stream's.conf") // a path that needs quoting too
	if err := os.WriteFile(file, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	b := New(fileInventory(file), nginxtest.LocalRunner{}, nil)
	content := "upstream app {\n\tserver 10.0.0.1:8080; # it's $HOME `date` \\n %s %%\n}\n\n"
	if err := b.write(context.Background(), content, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	if string(got) != content {
		t.Errorf("file holds %q, want %q", got, content)
	}
	prev, _ := os.ReadFile(file + ".pitstop-undo")
	if string(prev) != "old\n" {
		t.Errorf("undo file holds %q, want %q", prev, "old\n")
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want the original 0640", fi.Mode().Perm())
	}
	requireFiles(t, dir, "up stream's.conf", "up stream's.conf.pitstop-undo")

	if err := b.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != "old\n" {
		t.Errorf("after restore the file holds %q", got)
	}
	// An undone write leaves no trace: the previous file is not touched.
	requireFiles(t, dir, "up stream's.conf")
}

func TestWriteFailureLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "upstream.conf") // does not exist: the first cp fails
	b := New(fileInventory(file), nginxtest.LocalRunner{}, nil)
	err := b.write(context.Background(), "x", false)
	if err == nil || !strings.Contains(err.Error(), "write "+file+" on lb") {
		t.Fatalf("write to a missing file: %v", err)
	}
	requireFiles(t, dir)
}

// requireFiles fails unless dir holds exactly names.
func requireFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
