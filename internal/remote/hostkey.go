package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// KnownKey is one known_hosts entry that did not match the key a host presented.
type KnownKey struct {
	File        string
	Line        int
	Type        string
	Fingerprint string
}

// HostKeyError is returned when a host's key is not trusted: the host is in no known_hosts file
// (Changed is false) or a known_hosts entry holds a different key (Changed is true, Known lists the
// entries). Pitstop never connects to such a host; its Error text says how to fix it.
type HostKeyError struct {
	// Host is the inventory host (or the ProxyJump bastion) that was being reached.
	Host string
	// Target describes the SSH endpoint ("root@10.0.0.5:22 via ...").
	Target string
	// Address is the host:port looked up in known_hosts.
	Address string
	// Presented is the key the server offered.
	Presented ssh.PublicKey
	Changed   bool
	Known     []KnownKey
	// KnownHosts are the files that were consulted; Keyscan is the command that adds the host to the
	// first of them.
	KnownHosts []string
	Keyscan    string
	// Revoked is set when the presented key is marked @revoked.
	Revoked bool
}

// Error explains the refusal and what to run.
func (e *HostKeyError) Error() string {
	var b strings.Builder
	presented := keyType(e.Presented) + " key " + ssh.FingerprintSHA256(e.Presented)
	fmt.Fprintf(&b, "host key check failed for %s (ssh %s): ", e.Host, e.Target)
	switch {
	case e.Revoked:
		fmt.Fprintf(&b, "it presented %s, which %s marks @revoked. Do not connect; find out why the key was revoked.", presented, strings.Join(e.KnownHosts, ", "))
		return b.String()
	case e.Changed:
		k := e.Known[0]
		fmt.Fprintf(&b, "the host key has CHANGED: %s:%d has %s key %s, but the host presented %s.", k.File, k.Line, k.Type, k.Fingerprint, presented)
		for _, k := range e.Known[1:] {
			fmt.Fprintf(&b, " (%s:%d has %s key %s.)", k.File, k.Line, k.Type, k.Fingerprint)
		}
		fmt.Fprintf(&b, " Someone may be intercepting the connection, or the host was reinstalled. Verify the new fingerprint out of band"+
			" (on the host's console: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub); only if it matches, replace the old entry:\n"+
			"  ssh-keygen -R %s -f %s\n  %s", shortType(e.Presented), shell.Quote(knownHostsName(e.Address)), k.File, e.Keyscan)
	default:
		fmt.Fprintf(&b, "the host is unknown: %s is in none of %s. It presented %s. Verify that fingerprint out of band"+
			" (on the host's console: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then add the host with:\n  %s",
			e.Address, strings.Join(e.KnownHosts, ", "), presented, shortType(e.Presented), e.Keyscan)
	}
	return b.String()
}

// keyType names a key's type the way ssh-keygen -l does ("ED25519", "ECDSA", "RSA").
func keyType(k ssh.PublicKey) string {
	return strings.ToUpper(shortType(k))
}

// shortType is the key type as in /etc/ssh/ssh_host_TYPE_key.pub.
func shortType(k ssh.PublicKey) string {
	t := k.Type()
	switch {
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	}
	return strings.TrimPrefix(t, "ssh-")
}

// knownHostsName is how known_hosts writes an address: "host" on port 22, else "[host]:port".
func knownHostsName(addr string) string {
	return xknownhosts.Normalize(addr)
}

// hostKeys loads the endpoint's known_hosts files for one dial. Files that do not exist are skipped
// (an empty set makes every host unknown, which is refused like any unknown host).
type hostKeys struct {
	db    *knownhosts.HostKeyDB
	files []string
}

func loadHostKeys(files []string) (*hostKeys, error) {
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read known_hosts %s: %w", f, err)
		}
	}
	hk := &hostKeys{files: existing}
	if len(existing) > 0 {
		db, err := knownhosts.NewDB(existing...)
		if err != nil {
			return nil, fmt.Errorf("read known_hosts: %w; fix or remove the broken line", err)
		}
		hk.db = db
	}
	return hk, nil
}

// algorithms returns the host key algorithms to offer for addr: those of its known_hosts entries, so the
// server proves the key we know rather than another type we would wrongly call a changed key
// (golang/go#49631). Unknown hosts get the defaults, so the refusal can show the key presented.
func (hk *hostKeys) algorithms(addr string) []string {
	if hk.db == nil {
		return nil
	}
	return hk.db.HostKeyAlgorithms(addr)
}

// callback checks the presented key strictly and turns every refusal into a *HostKeyError.
func (hk *hostKeys) callback(host string, e *endpoint, home string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		var err error
		if hk.db != nil {
			err = hk.db.HostKeyCallback()(hostname, remote, key)
		} else {
			err = &xknownhosts.KeyError{}
		}
		if err == nil {
			return nil
		}
		shown := make([]string, len(e.knownHosts))
		for i, f := range e.knownHosts {
			shown[i] = tildePath(f, home)
		}
		herr := &HostKeyError{
			Host: host, Target: e.String(), Address: e.addr(), Presented: key, KnownHosts: shown,
			Keyscan: keyscanLine(e, shown[0]),
		}
		var keyErr *xknownhosts.KeyError
		var revoked *xknownhosts.RevokedError
		switch {
		case errors.As(err, &keyErr):
			for _, w := range keyErr.Want {
				herr.Known = append(herr.Known, KnownKey{
					File: tildePath(w.Filename, home), Line: w.Line,
					Type: keyType(w.Key), Fingerprint: ssh.FingerprintSHA256(w.Key),
				})
			}
			herr.Changed = len(herr.Known) > 0
		case errors.As(err, &revoked):
			herr.Revoked = true
		default:
			return fmt.Errorf("check host key of %s (ssh %s): %w", host, e, err)
		}
		return herr
	}
}

// keyscanLine is the command that appends the endpoint's keys to knownHosts. A host behind a bastion is
// scanned from the bastion, which is the machine that can reach it.
func keyscanLine(e *endpoint, knownHosts string) string {
	line := "ssh-keyscan -p " + strconv.Itoa(e.port) + " " + shell.Quote(e.hostname)
	if e.jump != nil {
		ssh := "ssh "
		if e.configFile != "" {
			ssh += "-F " + shell.Quote(e.configFile) + " "
		}
		line = ssh + shell.Quote(e.jump.spec) + " " + shell.Quote(line)
	}
	if strings.HasPrefix(knownHosts, "~/") {
		return line + " >> " + knownHosts
	}
	return line + " >> " + shell.Quote(knownHosts)
}
