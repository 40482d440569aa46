package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		secret   string // must not appear in the output
	}{
		{"host=h password=hunter2 dbname=d", "host=h password=xxxxx dbname=d", "hunter2"},
		{"host=h password = hunter2 dbname=d", "host=h password = xxxxx dbname=d", "hunter2"},
		{`password='se cr\'et w0rd' host=h`, "password=xxxxx host=h", "cr"},
		{`host=h password=back\ slash port=5`, "host=h password=xxxxx port=5", "slash"},
		{"host=h sslpassword=keypass sslkey=k", "host=h sslpassword=xxxxx sslkey=k", "keypass"},
		{"host=h password='unterminated dbname=hunter2", "host=h password=xxxxx", "hunter2"},
		{"host=h hunter2", "host=h xxxxx", "hunter2"},
		{"host=h user=u", "host=h user=u", ""},
		{"postgres://u:hunter2@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable", "hunter2"},
		{"postgresql://u@h/db", "postgresql://u@h/db", ""},
		{"postgres://h/db?user=u&password=hunter2&sslpassword=kp", "postgres://h/db?user=u&password=xxxxx&sslpassword=xxxxx", "hunter2"},
		{"postgres://h/db?pass%77ord=hunter2", "postgres://h/db?pass%77ord=xxxxx", "hunter2"},
		{"postgres://u:pw12@h1:5432,h2:5433/db", "postgres://u:xxxxx@h1:5432,h2:5433/db", "pw12"},
		{"postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db", "p@ss"},
		{"postgres://u:p?ss@h/db", "postgres://u:xxxxx@h/db", "p?ss"},
		{"postgres://u:pa/ss@h/db", "postgres://xxxxx@h/db", "pa"},
	} {
		got := redact(tc.in)
		if got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("redact(%q) = %q still shows %q", tc.in, got, tc.secret)
		}
	}
}

func TestScrub(t *testing.T) {
	inner := errors.New("login as user hunter2 failed")
	err := scrub(inner, "", "hunter2")
	if err.Error() != "login as user xxxxx failed" || !errors.Is(err, inner) {
		t.Fatalf("scrub: %q, is inner: %v", err, errors.Is(err, inner))
	}
	if scrub(inner, "other") != inner {
		t.Fatal("an error without the secret is returned as it is")
	}
}

// TestErrorsHideThePassword provokes errors whose text would carry the password, and checks that
// what Pitstop returns does not, while errors.As still reaches pgx's error.
func TestErrorsHideThePassword(t *testing.T) {
	p := sharedPair(t)
	ctx := context.Background()
	inv := inventoryFor(p)
	// The database name equals the password, so pgx's message names it.
	inv.Hosts[p.standby.name].Postgres = fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=hunter2 dbname=hunter2", p.standby.port)
	inv.Hosts[p.primary.name].Postgres = "host=127.0.0.1 port=15401 password='hunter2 dbname=x"
	c := New(inv, Options{})
	defer c.Close()

	err := c.PauseReplay(ctx, p.standby.name)
	var ce *pgconn.ConnectError
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("want a pgconn.ConnectError inside, got %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), p.standby.name) {
		t.Fatalf("the error must name the host and hide the password: %v", err)
	}
	err = c.Fence(ctx, p.primary.name)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "test-inventory.yaml") {
		t.Fatalf("a connection string that does not parse: want an error naming the file, without the password: %v", err)
	}
	lags, _ := c.Replication(ctx)
	for _, l := range lags {
		if strings.Contains(l.Err, "hunter2") {
			t.Fatalf("a reading's error shows the password: %+v", l)
		}
	}
}

// TestQuoteLiteral asks a real server to read back each literal, with standard_conforming_strings
// both on and off.
func TestQuoteLiteral(t *testing.T) {
	p := sharedPair(t)
	conn := connect(t, p.primary)
	ctx := context.Background()
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"", "plain", "it's", `back\slash`, `\'`, `''\\`, testPassword, "host=h password='p\\'w'", "ünï\ncode"} {
			lit, err := quoteLiteral(s)
			if err != nil {
				t.Fatalf("quoteLiteral(%q): %v", s, err)
			}
			var got string
			if err := conn.QueryRow(ctx, "SELECT "+lit).Scan(&got); err != nil || got != s {
				t.Errorf("standard_conforming_strings=%s: SELECT %s = %q, %v; want %q", scs, lit, got, err, s)
			}
		}
	}
	if _, err := quoteLiteral("a\x00b"); err == nil {
		t.Error("a NUL byte must be refused")
	}
}

// TestPassfiles reads the passfile keyword the way libpq does, in both syntaxes.
func TestPassfiles(t *testing.T) {
	for _, tc := range []struct {
		conn string
		want []string
	}{
		{"host=h passfile=/a/pgpass user=u", []string{"/a/pgpass"}},
		{`passfile = '/my dir/it\'s' host=h`, []string{"/my dir/it's"}},
		{`host=h passfile=/a\ b`, []string{"/a b"}},
		{"host=h application_name=passfile=x", nil},
		{"postgres://u@h1:5432,h2:5433/db?sslmode=disable&passfile=%2Fa%2Fpgpass", []string{"/a/pgpass"}},
		{"postgres://u@h:bad/db?passfile=/a/pgpass", []string{"/a/pgpass"}},
		{"host=h", nil},
	} {
		if got := passfiles(tc.conn); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("passfiles(%q) = %q, want %q", tc.conn, got, tc.want)
		}
	}
}
