package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultKeyFiles are tried, in this order, when ssh_config names no IdentityFile (as OpenSSH does).
var defaultKeyFiles = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// keyring is the set of keys offered to one endpoint, and notes on keys that could not be offered, for
// the error message when the server accepts none.
type keyring struct {
	signers []ssh.Signer
	tried   []string
	notes   []string
	agent   net.Conn
}

// Close releases the agent connection, which is needed only during the handshake.
func (k *keyring) Close() {
	if k.agent != nil {
		k.agent.Close()
	}
}

// loadKeys collects the endpoint's keys: explicit IdentityFile keys first, then the agent's keys (only
// those matching an IdentityFile when IdentitiesOnly is set), then the default key files.
func loadKeys(e *endpoint, home string) *keyring {
	k := &keyring{}
	seen := map[string]bool{}
	add := func(s ssh.Signer) bool {
		id := string(s.PublicKey().Marshal())
		if seen[id] {
			return false
		}
		seen[id] = true
		k.signers = append(k.signers, s)
		return true
	}
	type loaded struct {
		file   string
		signer ssh.Signer
	}
	var explicit, defaults []loaded
	var wanted [][]byte // public keys of the identity files, for IdentitiesOnly
	for _, f := range e.identityFiles {
		s, pub := k.loadFile(f, home, true)
		if pub != nil {
			wanted = append(wanted, pub.Marshal())
		}
		explicit = append(explicit, loaded{f, s})
	}
	if e.defaultKeys {
		for _, name := range defaultKeyFiles {
			f := filepath.Join(home, ".ssh", name)
			s, pub := k.loadFile(f, home, false)
			if pub != nil {
				wanted = append(wanted, pub.Marshal())
			}
			defaults = append(defaults, loaded{f, s})
		}
	}
	for _, l := range explicit {
		if l.signer != nil && add(l.signer) {
			k.tried = append(k.tried, tildePath(l.file, home))
		}
	}
	if e.agentSocket != "" {
		conn, err := net.Dial("unix", e.agentSocket)
		if err != nil {
			k.notes = append(k.notes, fmt.Sprintf("ssh-agent at %s is unreachable (%v)", e.agentSocket, err))
		} else {
			k.agent = conn
			signers, err := agent.NewClient(conn).Signers()
			if err != nil {
				k.notes = append(k.notes, fmt.Sprintf("ssh-agent at %s did not list its keys (%v)", e.agentSocket, err))
			}
			n := 0
			for _, s := range signers {
				if e.identitiesOnly && !containsKey(wanted, s.PublicKey().Marshal()) {
					continue
				}
				if add(s) {
					n++
				}
			}
			k.tried = append(k.tried, fmt.Sprintf("%d key(s) from ssh-agent", n))
		}
	}
	for _, l := range defaults {
		if l.signer != nil && add(l.signer) {
			k.tried = append(k.tried, tildePath(l.file, home))
		}
	}
	return k
}

// loadFile reads one private key. A missing default key is no news; a missing explicit one, or a
// passphrase-protected key (Pitstop never prompts), is noted for the error message. The public key is
// returned when known even if the private key could not be used, so the agent can supply it.
func (k *keyring) loadFile(file, home string, explicit bool) (ssh.Signer, ssh.PublicKey) {
	shown := tildePath(file, home)
	pem, err := os.ReadFile(file)
	if err != nil {
		if explicit || !errors.Is(err, os.ErrNotExist) {
			k.notes = append(k.notes, fmt.Sprintf("cannot read IdentityFile %s (%v)", shown, err))
		}
		return nil, readPublic(file)
	}
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		k.notes = append(k.notes, fmt.Sprintf("%s is passphrase-protected: load it into ssh-agent with ssh-add %s", shown, shown))
		return nil, missing.PublicKey
	case err != nil:
		k.notes = append(k.notes, fmt.Sprintf("%s is not a private key Pitstop can read (%v)", shown, err))
		return nil, readPublic(file)
	}
	return s, s.PublicKey()
}

// readPublic reads FILE.pub, if there is one.
func readPublic(file string) ssh.PublicKey {
	b, err := os.ReadFile(file + ".pub")
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return pub
}

func containsKey(list [][]byte, k []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// authAdvice explains a failed login: which keys were offered and what to do.
func (k *keyring) authAdvice(e *endpoint) string {
	var b strings.Builder
	if len(k.tried) == 0 {
		b.WriteString("no key was offered: there is no ssh-agent (SSH_AUTH_SOCK) and no usable key file")
	} else {
		b.WriteString("the server accepted none of: " + strings.Join(k.tried, ", "))
	}
	if len(k.notes) > 0 {
		b.WriteString("; " + strings.Join(k.notes, "; "))
	}
	if len(k.tried) == 0 {
		b.WriteString(". Create a key (ssh-keygen -t ed25519) or set IdentityFile for " + e.alias + " in ssh_config,")
	} else {
		b.WriteString(". Either")
	}
	fmt.Fprintf(&b, " add the public key to ~%s/.ssh/authorized_keys on %s, or load the right key into ssh-agent (ssh-add)", e.user, e.hostname)
	return b.String()
}
