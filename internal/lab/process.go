package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readPID reads a pid file whose first line is a process id (nginx, sshd, the apps, and PostgreSQL's
// postmaster.pid all qualify). It returns 0 when the file does not exist.
func readPID(file string) (int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file %s: %w", file, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not start with a process id (%q)", file, line)
	}
	return pid, nil
}

// alive reports whether pid is a running process. A zombie (exited, not yet reaped by its parent)
// counts as gone.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may contain spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// cmdline returns the command line of pid with arguments separated by spaces, or "".
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// stopPID sends sig to pid and waits up to grace for it to exit, then kills it. It does nothing when
// the process is gone already or its command line does not contain want (the pid was reused by an
// unrelated program).
func stopPID(pid int, want string, sig syscall.Signal, grace time.Duration) error {
	if !alive(pid) {
		return nil
	}
	if want != "" && !strings.Contains(cmdline(pid), want) {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal pid %d (%s): %w", pid, want, err)
	}
	if waitGone(pid, grace) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, 3*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d (%s) is still running after SIGKILL", pid, want)
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening reports whether something accepts TCP connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitListening waits up to d until addr accepts connections.
func waitListening(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if listening(addr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkFree returns an error wrapping ErrPortBusy when addr cannot be bound, naming what holds it.
func checkFree(addr, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		return nil
	}
	holder := ""
	if h := portHolder(addr); h != "" {
		holder = " by " + h
	}
	return fmt.Errorf("%w: %s for the %s is in use%s (%v); stop that program, run \"pitstop lab down\" if an old lab holds it, or choose another port base",
		ErrPortBusy, addr, what, holder, err)
}

// portHolder names the process listening on addr (host:port) as "NAME (pid N)", or "" when it
// cannot tell.
func portHolder(addr string) string {
	pid := listenerPID(addr)
	if pid == 0 {
		return ""
	}
	name := strings.Fields(cmdline(pid))
	if len(name) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	// sshd and PostgreSQL rewrite their process title ("sshd: /usr/sbin/sshd -f …").
	return fmt.Sprintf("%s (pid %d)", strings.TrimSuffix(filepath.Base(name[0]), ":"), pid)
}

// listenerPID finds the process listening on addr (an IPv4 host:port), or on its port on every
// address, by reading /proc/net/tcp{,6} and each process's open sockets. It returns 0 when it cannot
// tell (another user's process without privileges, or a process in another network namespace).
func listenerPID(addr string) int {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(portStr)
	ip := net.ParseIP(host).To4()
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != "0A" { // 0A is LISTEN
				continue
			}
			hexIP, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); !ok || err != nil || int(p) != port {
				continue
			}
			if strings.Trim(hexIP, "0") == "" || (ip != nil && hexIP == procIPv4(ip)) {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		file.Close()
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !inodes[target] {
			continue
		}
		pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
		return pid
	}
	return 0
}

// procIPv4 writes ip as /proc/net/tcp does: the 32-bit address in host (little-endian) byte order.
func procIPv4(ip net.IP) string {
	return fmt.Sprintf("%02X%02X%02X%02X", ip[3], ip[2], ip[1], ip[0])
}

// waitPIDFile waits up to d until file names a live process whose command line contains want. Daemons
// (nginx, sshd) listen before they fork away and write their pid file, so a listening port alone does
// not mean the pid file is there yet.
func waitPIDFile(file, want string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		pid, err := readPID(file)
		if err == nil && alive(pid) && strings.Contains(cmdline(pid), want) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("pid %d is not a running %s", pid, want)
			}
			return fmt.Errorf("pid file %s: %w after %s", file, err, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClosed waits up to d until nothing accepts connections on addr.
func waitClosed(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for listening(addr) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
