// Package shell quotes values for POSIX sh, so that anything Pitstop interpolates into a command that runs
// on a host (locally or over SSH) reaches the program as one literal argument.
package shell

import "strings"

// Quote returns s quoted for sh: it is left bare when it holds only characters that sh never
// interprets, and otherwise wrapped in single quotes with each embedded quote written as the four
// characters quote, backslash, quote, quote (close, escaped quote, reopen).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes every argument and joins them with spaces.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

func isSafe(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_./:=@,+%", r):
		default:
			return false
		}
	}
	return true
}
