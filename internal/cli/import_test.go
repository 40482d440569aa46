package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/pitstop-ops/pitstop/inventory"
)

const importFixtures = "../importer/testdata/"

func TestImportCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "import", "rundeck", importFixtures+"rundeck-map.yaml", "--production", "production", "--backup", "backup", "--database", "db", "--balancer", "lb1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{`"app-p1":`, `ssh: "deploy@app-p1.shop.invalid:2222" # found`, `database: "db-prod" # found: tag production and db`, "- \"cdn-1\""} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if !strings.Contains(errOut, "values are TODO") {
		t.Errorf("stderr does not say TODOs are left: %q", errOut)
	}
	// -o writes the file, refuses to overwrite it, and overwrites with --force.
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if code, _, errOut := runCLI(t, "import", "ansible", importFixtures+"ansible.ini", "-o", file, "--production", "production"); code != 0 {
		t.Fatalf("-o: exit %d: %s", code, errOut)
	}
	first, _ := os.ReadFile(file)
	code, _, errOut = runCLI(t, "import", "ansible", importFixtures+"ansible.yaml", "-o", file)
	if code != 2 || !strings.Contains(errOut, file+" exists") {
		t.Errorf("overwrite without --force: exit %d, %s", code, errOut)
	}
	if now, _ := os.ReadFile(file); string(now) != string(first) {
		t.Error("the file changed although --force was not given")
	}
	if code, _, errOut := runCLI(t, "import", "ansible", importFixtures+"ansible.yaml", "-o", file, "--force"); code != 0 {
		t.Errorf("--force: exit %d: %s", code, errOut)
	}
	if now, _ := os.ReadFile(file); string(now) == string(first) {
		t.Error("--force did not overwrite")
	}
	// The written draft is what plan reports by line.
	code, _, errOut = runCLI(t, "plan", "-i", file)
	if code != 2 || !strings.Contains(errOut, file+":") || !strings.Contains(errOut, "still a TODO") {
		t.Errorf("plan on the draft: exit %d, %s", code, errOut)
	}
}

func TestImportBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "nodes.yaml")
	if err := os.WriteFile(bad, []byte("web1:\n  hostname: web1.invalid\nweb2:\n  username: deploy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed", []string{"import", "rundeck", bad}, bad + `:3:1: node "web2" has no hostname`},
		{"no kind", []string{"import", bad}, "give the source's kind and file"},
		{"unknown kind", []string{"import", "chef", bad}, "give the source's kind and file"},
		{"bad selector", []string{"import", "rundeck", importFixtures + "rundeck-map.yaml", "--production", "prod"}, "--production prod: no node has that tag"},
		{"missing file", []string{"import", "ansible", "nope.ini"}, "nope.ini"},
		{"export other", []string{"export", "jenkins", "-i", "demo"}, "the only export is rundeck"},
		{"export demo", []string{"export", "rundeck", "-i", "demo"}, "the demo inventory is simulated"},
		{"discover no upstream", []string{"discover", "--balancer", "local"}, "--balancer and --upstream are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// TestExportRundeck checks the exported job's shape, then runs its command line as Rundeck would
// (options substituted, by the node's shell) with a stand-in pitstop that records what it was given.
func TestExportRundeck(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../inventory/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "fake-pitstop")
	record := filepath.Join(dir, "record")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" > "+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "export", "rundeck", "-i", inv, "--plan", "reverse-sync", "--pitstop", fake)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var jobs []struct {
		Name               string `yaml:"name"`
		Description        string `yaml:"description"`
		MultipleExecutions *bool  `yaml:"multipleExecutions"`
		Options            []struct {
			Name, Value string
			Values      []string
			Required    bool
			Regex       string
		} `yaml:"options"`
		Sequence struct {
			Commands []struct {
				Exec string `yaml:"exec"`
			} `yaml:"commands"`
		} `yaml:"sequence"`
	}
	if err := yaml.Unmarshal([]byte(out), &jobs); err != nil {
		t.Fatalf("the job list is not YAML: %v\n%s", err, out)
	}
	if len(jobs) != 1 || jobs[0].Name != "pitstop shop upgrade" || jobs[0].MultipleExecutions == nil || *jobs[0].MultipleExecutions || jobs[0].Description == "" {
		t.Fatalf("job %+v", jobs)
	}
	j := jobs[0]
	if len(j.Options) != 2 || j.Options[0].Name != "version" || j.Options[0].Value != "2.4.0" || !j.Options[0].Required ||
		j.Options[1].Name != "plan" || j.Options[1].Value != "reverse-sync" || strings.Join(j.Options[1].Values, ",") != "readonly,reverse-sync" {
		t.Errorf("options %+v", j.Options)
	}
	if len(j.Sequence.Commands) != 3 {
		t.Fatalf("commands %+v", j.Sequence.Commands)
	}
	// Rundeck replaces ${option.NAME}; each command is one program and its arguments (no shell syntax
	// that only some node executors would honour), run here by sh as an SSH node would.
	sub := strings.NewReplacer("${option.version}", "9.9.9", "${option.plan}", "readonly")
	for _, c := range j.Sequence.Commands {
		if strings.ContainsAny(strings.ReplaceAll(c.Exec, `"${option.version}"`, ""), "><|;&") {
			t.Errorf("command %q uses shell syntax", c.Exec)
		}
		if b, err := exec.Command("sh", "-c", sub.Replace(c.Exec)).CombinedOutput(); err != nil {
			t.Fatalf("the job's command failed: %v\n%s\n%s", err, c.Exec, b)
		}
	}
	args, _ := os.ReadFile(record)
	copyFile := filepath.Join(dir, ".shop.rundeck.yaml")
	if got := strings.TrimSpace(string(args)); got != "run -i "+copyFile+" --plan readonly --auto-approve" {
		t.Errorf("pitstop ran with %q", got)
	}
	ran, err := inventory.Load(copyFile)
	if err != nil {
		t.Fatalf("the inventory the job runs: %v", err)
	}
	if ran.Upgrade.Version != "9.9.9" || ran.Upgrade.Verify.Version != "9.9.9" {
		t.Errorf("the job ran version %q (verify %q); want 9.9.9", ran.Upgrade.Version, ran.Upgrade.Verify.Version)
	}
	// An inventory where the version line cannot be found is refused.
	flow := strings.Replace(string(src), "upgrade:\n  version: \"2.4.0\"\n", "upgrade:\n    version: \"2.4.0\"\n", 1)
	if flow == string(src) {
		t.Fatal("fixture changed: no upgrade.version line")
	}
	odd := filepath.Join(dir, "odd.yaml")
	os.WriteFile(odd, []byte(reindent(flow)), 0o644)
	if code, _, errOut := runCLI(t, "export", "rundeck", "-i", odd); code != 2 || !strings.Contains(errOut, "has 0 such lines") {
		t.Errorf("odd inventory: exit %d, %s", code, errOut)
	}
}

// reindent indents the upgrade section's fields by four spaces, as some operators write YAML.
func reindent(s string) string {
	before, after, _ := strings.Cut(s, "upgrade:\n")
	lines := strings.Split(after, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "    version") {
			lines[i] = "  " + l
		} else if l != "" && !strings.HasPrefix(l, " ") {
			return before + "upgrade:\n" + strings.Join(lines, "\n")
		}
	}
	return before + "upgrade:\n" + strings.Join(lines, "\n")
}

// rundeckInventory is an inventory whose upgrade is a Rundeck job at url; its hosts are under .invalid
// so that nothing is reached if Pitstop went past the Rundeck check.
func rundeckInventory(t *testing.T, url, token string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rd.token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := `name: shop
probe: {url: "http://lb.shop.invalid/"}
balancer: {host: lb, upstream: shop, file: /etc/nginx/conf.d/shop.conf}
hosts:
  lb: {ssh: ops@lb.shop.invalid}
  app-p1: {ssh: deploy@app-p1.shop.invalid, serve: "app-p1.shop.invalid:8080"}
  app-b1: {ssh: deploy@app-b1.shop.invalid, serve: "app-b1.shop.invalid:8080"}
  db-p: {ssh: deploy@db-p.shop.invalid, postgres: "host=db-p.shop.invalid user=pitstop dbname=shop connect_timeout=2"}
  db-b: {ssh: deploy@db-b.shop.invalid, postgres: "host=db-b.shop.invalid user=pitstop dbname=shop connect_timeout=2"}
sides:
  production: {apps: [app-p1], database: db-p}
  backup: {apps: [app-b1], database: db-b}
rundeck: {url: "` + url + `", token_file: rd.token}
upgrade:
  version: "2.4.0"
  commands:
    - rundeck: {job: 3f2a-upgrade, options: {version: "{version}"}, filter: "name: {host}"}
`
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRundeckRefusedBeforeAnyChange: a run whose Rundeck refuses the token, or cannot be reached,
// stops with exit 1 before it contacts any host. The Rundeck here is a local stand-in that answers
// 401 as Rundeck does; a real Rundeck cannot be installed on these machines.
func TestRundeckRefusedBeforeAnyChange(t *testing.T) {
	var mu sync.Mutex
	var saw []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		saw = append(saw, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":true,"apiversion":41,"errorCode":"api.error.authentication","message":"(Token:****) is not authorized"}`))
	}))
	defer srv.Close()
	file := rundeckInventory(t, srv.URL, "secret-token-1")
	code, out, errOut := runCLI(t, "run", "-i", file, "--auto-approve", "--journal", filepath.Join(t.TempDir(), "j.jsonl"))
	if code != 1 || !strings.Contains(errOut, "Rundeck answered HTTP 401") || strings.Contains(out+errOut, "secret-token-1") {
		t.Errorf("bad token: exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	if len(saw) != 1 || saw[0] != "GET /api/41/system/info" {
		t.Errorf("requests %v", saw)
	}
	mu.Unlock()
	code, out, _ = runCLI(t, "check", "-i", file)
	if code != 1 || !strings.Contains(out, "FAIL  rundeck: connect: Rundeck answered HTTP 401") || strings.Contains(out, "secret-token-1") {
		t.Errorf("check with a refused token: exit %d\n%s", code, out)
	}
	srv.Close()
	code, out, errOut = runCLI(t, "run", "-i", file, "--auto-approve", "--journal", filepath.Join(t.TempDir(), "j.jsonl"))
	if code != 1 || !strings.Contains(errOut, "Rundeck is unreachable") {
		t.Errorf("unreachable: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "db-p") {
		t.Errorf("the run went past the Rundeck check:\n%s%s", out, errOut)
	}
	// The plan shows the job with its options expanded for each host.
	code, out, _ = runCLI(t, "plan", "-i", file)
	if code != 0 || !strings.Contains(out, `app-p1$ rundeck {"job":"3f2a-upgrade","options":{"version":"2.4.0"},"filter":"name: app-p1"}`) {
		t.Errorf("plan: exit %d\n%s", code, out)
	}
}
