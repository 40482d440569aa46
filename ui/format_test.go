package ui

import (
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w, n int
		want []string
	}{
		{"may be left half-done on app-p1, app-p2.", 30, 9, []string{"may be left half-done on", "app-p1, app-p2."}},
		{"a verylongwordthatdoesnotfit b", 10, 9, []string{"a", "verylongwo", "rdthatdoes", "notfit b"}},
		{"one two three four five six", 9, 2, []string{"one two", "three …"}},
		{"", 10, 3, []string{""}},
		{"  spaced   out  ", 20, 3, []string{"spaced out"}},
	} {
		got := wrap(tc.s, tc.w, tc.n)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", tc.s, tc.w, tc.n, got, tc.want)
		}
		for _, l := range got {
			if width(l) > tc.w {
				t.Errorf("wrap(%q, %d, %d): line %q is wider than %d", tc.s, tc.w, tc.n, l, tc.w)
			}
		}
	}
}
