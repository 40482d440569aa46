package remote

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pitstop-ops/pitstop/steps"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"a\n"}, []string{"a"}},
		{"split across writes", []string{"ab", "c\nd", "e\n"}, []string{"abc", "de"}},
		{"several in one write", []string{"a\nb\n\nc"}, []string{"a", "b", "", "c"}},
		{"CRLF", []string{"a\r\nb\r", "\n"}, []string{"a", "b"}},
		{"no trailing newline", []string{"tail"}, []string{"tail"}},
		{"exactly MaxLine", []string{strings.Repeat("x", MaxLine) + "\n"}, []string{strings.Repeat("x", MaxLine)}},
		{"MaxLine+1", []string{strings.Repeat("x", MaxLine+1) + "\n"}, []string{strings.Repeat("x", MaxLine), "x"}},
		{"long line in small writes", strings.Split(strings.Repeat("y", MaxLine+10), ""), []string{strings.Repeat("y", MaxLine), strings.Repeat("y", 10)}},
		{"cut before a split character", []string{"a" + strings.Repeat("é", MaxLine/2)}, []string{"a" + strings.Repeat("é", MaxLine/2-1), "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := newLineWriter(steps.Stdout, func(s steps.Stream, line string) {
				if s != steps.Stdout {
					t.Errorf("stream %s", s)
				}
				got = append(got, line)
			})
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			if fmt.Sprint(lens(got)) != fmt.Sprint(lens(tt.want)) || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("lines of lengths %v, want %v", lens(got), lens(tt.want))
			}
		})
	}
}

func lens(lines []string) []int {
	out := make([]int, len(lines))
	for i, l := range lines {
		out[i] = len(l)
	}
	return out
}
