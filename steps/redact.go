package steps

import "regexp"

// Secrets an inventory's commands may carry, and what replaces them: a URL's password
// (scheme://user:password@host), and password=… or PGPASSWORD=… words.
var (
	urlPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@'"]+):[^\s@/'"]+@`)
	kvPassword  = regexp.MustCompile(`(?i)\b((?:pg)?password)=('[^']*'|"[^"]*"|[^\s'";&|]+)`)
)

// Redact hides passwords written into a command or a line of output, so that what Pitstop shows,
// prints and journals never holds one: "postgresql://replicator:s3cret@db/x" becomes
// "postgresql://replicator:xxxxx@db/x", "password=s3cret" and "PGPASSWORD=s3cret" become
// "…=xxxxx". The commands themselves run unchanged. Better still, keep passwords out of the
// inventory (~/.pgpass, a key, ssh-agent).
func Redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}:xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}=xxxxx")
}
