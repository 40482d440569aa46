package inventory

import (
	"testing"
)

func TestExpand(t *testing.T) {
	inv := &Inventory{
		Hosts: map[string]*Host{
			"app-1": {SSH: "deploy@10.0.1.11", Serve: "10.0.1.11:8080"},
			"app-6": {SSH: "deploy@::1", Serve: "[::1]:8080"},
			"odd":   {SSH: "local", Serve: "x;rm -rf /:80"},
			"db":    {SSH: "local", Postgres: "host=db"},
		},
		Upgrade: Upgrade{Version: "2.4.0"},
	}
	cases := []struct {
		name, cmd, host, want string
	}{
		{"host", "hostname {host}", "app-1", "hostname app-1"},
		{"serve", "curl -fsS http://{serve}/health", "app-1", "curl -fsS http://10.0.1.11:8080/health"},
		{"addr", "ping -c1 {addr}", "app-1", "ping -c1 10.0.1.11"},
		{"version", "apt-get install -y shop={version}", "app-1", "apt-get install -y shop=2.4.0"},
		{"all at once", "{host} {serve} {addr} {version}", "app-1", "app-1 10.0.1.11:8080 10.0.1.11 2.4.0"},
		{"ipv6", "echo {serve} {addr}", "app-6", "echo '[::1]:8080' ::1"},
		{"values are quoted", "echo {serve} {addr}", "odd", "echo 'x;rm -rf /:80' 'x;rm -rf /'"},
		{"no serve", "echo {serve} {addr} {host}", "db", "echo '' '' db"},
		{"unknown host", "echo {serve} {host}", "nope", "echo '' nope"},
		{"shell variable", "echo ${HOME} ${host}", "app-1", "echo ${HOME} ${host}"},
		{"awk program", "awk '{print $1}' f", "app-1", "awk '{print $1}' f"},
		{"escaped placeholder", "awk '{{print}}' f; echo {{host}}", "app-1", "awk '{print}' f; echo {host}"},
		{"escape after $", "echo ${{host}}", "app-1", "echo ${{host}}"},
		{"unknown placeholder", "echo {hots} {Host}", "app-1", "echo {hots} {Host}"},
		{"empty braces and brace expansion", "find . -exec ls {} \\; ; echo {a,b} {1..3}", "app-1", "find . -exec ls {} \\; ; echo {a,b} {1..3}"},
		{"half-open", "echo {{host} {host}}", "app-1", "echo {app-1 app-1}"},
		{"repeated", "{host}{host}", "app-1", "app-1app-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inv.Expand(tc.cmd, tc.host); got != tc.want {
				t.Errorf("Expand(%q, %q)\n got: %s\nwant: %s", tc.cmd, tc.host, got, tc.want)
			}
		})
	}
	inv.Upgrade.Version = "2.4.0 it's"
	if got, want := inv.Expand("install {version}", "app-1"), `install '2.4.0 it'\''s'`; got != want {
		t.Errorf("version with a quote: got %s, want %s", got, want)
	}
}

// TestPlaceholderRule checks that validation flags exactly the braces Expand would treat as placeholders.
func TestPlaceholderRule(t *testing.T) {
	cases := []struct {
		cmd  string
		want []string
	}{
		{"echo {host} {serve}", []string{"host", "serve"}},
		{"echo ${HOME} ${version} {{print}} {} {a,b} {print $1}", nil},
		{"echo {hots} {HOST} {x_y}", []string{"hots", "HOST", "x_y"}},
		{"echo {host1}", nil},
	}
	for _, tc := range cases {
		got := placeholdersIn(tc.cmd)
		if len(got) != len(tc.want) {
			t.Errorf("placeholdersIn(%q) = %q, want %q", tc.cmd, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("placeholdersIn(%q) = %q, want %q", tc.cmd, got, tc.want)
			}
		}
	}
}

func TestValidCommandsWithBraces(t *testing.T) {
	src := edit(t, base(t), "    - sudo apt-get install -y shop={version}\n",
		"    - sudo apt-get install -y shop={version}\n"+
			"    - echo ${HOME} && awk '{print $1}' /etc/hosts\n"+
			"    - awk '{{print}}' /etc/hosts\n"+
			"    - find /tmp -name x -exec rm {} +\n")
	inv, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := inv.Expand(inv.Upgrade.Commands[2], "app-p1"), "awk '{print}' /etc/hosts"; got != want {
		t.Errorf("Expand = %q, want %q", got, want)
	}
}
