package inventory

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	cases := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "local", want: Target{Local: true}},
		{in: "lb", want: Target{Host: "lb"}},
		{in: "ops@lb.shop.internal", want: Target{User: "ops", Host: "lb.shop.internal"}},
		{in: "deploy@10.0.1.11:2222", want: Target{User: "deploy", Host: "10.0.1.11", Port: 2222}},
		{in: "deploy@[::1]:22", want: Target{User: "deploy", Host: "::1", Port: 22}},
		{in: "deploy@::1", want: Target{User: "deploy", Host: "::1"}},
		{in: "deploy@[::1]", want: Target{User: "deploy", Host: "::1"}},
		{in: "", wantErr: "empty ssh target"},
		{in: "@lb", wantErr: `ssh target "@lb" has an empty user before @`},
		{in: "a b@lb", wantErr: `ssh target "a b@lb" has an invalid user "a b"`},
		{in: "-oProxyCommand=sh@lb", wantErr: `ssh target "-oProxyCommand=sh@lb" has an invalid user "-oProxyCommand=sh"`},
		{in: "ops@-lb", wantErr: `ssh target "ops@-lb" has an invalid host "-lb"`},
		{in: "ops@lb\nx", wantErr: `ssh target "ops@lb\nx" has an invalid host "lb\nx"`},
		{in: "ops@lb:0", wantErr: `ssh target "ops@lb:0" has port "0"; a port is a number from 1 to 65535`},
		{in: "ops@lb:", wantErr: `ssh target "ops@lb:" has port ""; a port is a number from 1 to 65535`},
		{in: "ops@:22", wantErr: `ssh target "ops@:22" has no host`},
		{in: "ops@[]", wantErr: `ssh target "ops@[]" has no host`},
	}
	for _, tc := range cases {
		got, err := ParseTarget(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("ParseTarget(%q) error = %v, want %s", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
		case tc.wantErr == "" && got != tc.want:
			t.Errorf("ParseTarget(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseTarget checks that an accepted target survives String and ParseTarget unchanged.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"local", "lb", "ops@lb:2222", "u@[::1]:22", "u@::1", "u@[fe80::1%eth0]:22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		again, err := ParseTarget(tg.String())
		if err != nil {
			t.Fatalf("ParseTarget(%q) = %+v, but its String %q does not parse: %v", s, tg, tg.String(), err)
		}
		if again != tg {
			t.Fatalf("ParseTarget(%q) = %+v, String %q parses to %+v", s, tg, tg.String(), again)
		}
	})
}

// TestParseTargetHidesPassword: user:password@host is refused without quoting the password back.
func TestParseTargetHidesPassword(t *testing.T) {
	_, err := ParseTarget("deploy:Hunter2Secret@10.0.1.20")
	if err == nil || strings.Contains(err.Error(), "Hunter2Secret") || !strings.Contains(err.Error(), "10.0.1.20") {
		t.Fatalf("ParseTarget(user:password@host) = %v; want an error naming the host, without the password", err)
	}
}
