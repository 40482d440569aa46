package nginx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pitstop-ops/pitstop/internal/shell"
)

// Pitstop's lock lives beside the upstream file on the balancer host, where switches happen: it works
// when production's database is down (the emergency in which users must go to the backup), and every
// pitstop driving this balancer sees it. The holder renews it (touches the file) every few seconds;
// a lock not renewed for StaleAfter, or whose owner's process is gone from this machine, is stale.

// StaleAfter is how long a lock file may go without renewal before it counts as stale.
const StaleAfter = 15 * time.Second

// ErrLockHeld is wrapped when another pitstop holds the lock.
var ErrLockHeld = errors.New("another pitstop holds the lock")

// LockOwner says who holds the lock.
type LockOwner struct {
	Operator string
	Machine  string
	PID      int
	Since    time.Time
	// Token tells this holder from any other, also one with the same names.
	Token string
}

func (o LockOwner) String() string {
	return fmt.Sprintf("%s on %s (pid %d), since %s", o.Operator, o.Machine, o.PID, o.Since.UTC().Format("2006-01-02 15:04:05 UTC"))
}

func (o LockOwner) content() string {
	return fmt.Sprintf("operator=%s\nmachine=%s\npid=%d\nsince=%s\ntoken=%s\n", oneWord(o.Operator), oneWord(o.Machine), o.PID, o.Since.UTC().Format(time.RFC3339), o.Token)
}

func oneWord(s string) string { return strings.Join(strings.Fields(s), "_") }

// NewOwner describes this process as the lock's owner.
func NewOwner(operator string) LockOwner {
	host, _ := os.Hostname()
	return LockOwner{Operator: operator, Machine: host, PID: os.Getpid(), Since: time.Now(),
		Token: strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())}
}

// LockHeldError is the lock held by someone else.
type LockHeldError struct {
	File, Host string
	Owner      LockOwner
	// Stale says why the holder looks gone ("" while it looks alive).
	Stale string
}

func (e *LockHeldError) Error() string {
	s := fmt.Sprintf("%s: %s on %s names %s", ErrLockHeld, e.File, e.Host, e.Owner)
	if e.Stale != "" {
		return s + "; it looks stale (" + e.Stale + "): run again in a terminal to take it over after confirming, see docs/safety.md#lock"
	}
	return s + "; wait until that run ends, or ask its operator to quit it"
}

// Unwrap makes errors.Is(err, ErrLockHeld) true.
func (e *LockHeldError) Unwrap() error { return ErrLockHeld }

// LockFile is the lock's path on the balancer host.
func (b *Balancer) LockFile() string { return b.file() + ".pitstop-lock" }

// TakeLock creates the lock file for owner, atomically (O_EXCL through the shell's noclobber). When
// it exists it returns a *LockHeldError naming the holder and whether it looks stale. takeOver, when
// not "", is the token of a stale holder the operator confirmed to replace: the file is replaced only
// if it still names that holder.
func (b *Balancer) TakeLock(ctx context.Context, owner LockOwner, takeOver string) error {
	lock, content := shell.Quote(b.LockFile()), shell.Quote(owner.content())
	cmd := fmt.Sprintf(`if ( set -C; printf '%%s' %[2]s > %[1]s ) 2>/dev/null; then echo TAKEN; else echo HELD; cat %[1]s; echo "age=$(( $(date +%%s) - $(stat -c %%Y %[1]s) ))"; fi`, lock, content)
	if takeOver != "" {
		tmp := shell.Quote(b.LockFile() + ".new")
		cmd = fmt.Sprintf(`if grep -qx %[3]s %[1]s; then printf '%%s' %[2]s > %[4]s && mv -f %[4]s %[1]s && echo TAKEN; else echo HELD; cat %[1]s; echo "age=$(( $(date +%%s) - $(stat -c %%Y %[1]s) ))"; fi`,
			lock, content, shell.Quote("token="+takeOver), tmp)
	}
	res, err := b.sh(ctx, cmd)
	if err != nil {
		return fmt.Errorf("take the pitstop lock %s on %s: %w%s", b.LockFile(), b.host(), err, res.tail())
	}
	out := res.stdout()
	if len(out) > 0 && out[0] == "TAKEN" {
		return nil
	}
	return b.heldError(out)
}

// ReadLock reads the lock file: nil when there is none.
func (b *Balancer) ReadLock(ctx context.Context) (*LockHeldError, error) {
	lock := shell.Quote(b.LockFile())
	res, err := b.sh(ctx, fmt.Sprintf(`if [ -e %[1]s ]; then echo HELD; cat %[1]s; echo "age=$(( $(date +%%s) - $(stat -c %%Y %[1]s) ))"; else echo FREE; fi`, lock))
	if err != nil {
		return nil, fmt.Errorf("read the pitstop lock %s on %s: %w%s", b.LockFile(), b.host(), err, res.tail())
	}
	out := res.stdout()
	if len(out) > 0 && out[0] == "FREE" {
		return nil, nil
	}
	var held *LockHeldError
	if errors.As(b.heldError(out), &held) {
		return held, nil
	}
	return nil, nil
}

// heldError parses the lock file's content as printed after "HELD".
func (b *Balancer) heldError(lines []string) error {
	e := &LockHeldError{File: b.LockFile(), Host: b.host()}
	age := -1
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		switch k {
		case "operator":
			e.Owner.Operator = v
		case "machine":
			e.Owner.Machine = v
		case "pid":
			e.Owner.PID, _ = strconv.Atoi(v)
		case "since":
			e.Owner.Since, _ = time.Parse(time.RFC3339, v)
		case "token":
			e.Owner.Token = v
		case "age":
			age, _ = strconv.Atoi(v)
		}
	}
	here, _ := os.Hostname()
	switch {
	case e.Owner.Machine == here && e.Owner.PID > 0 && !processAlive(e.Owner.PID):
		e.Stale = fmt.Sprintf("pid %d no longer runs on %s", e.Owner.PID, here)
	case age >= 0 && time.Duration(age)*time.Second > StaleAfter:
		e.Stale = fmt.Sprintf("not renewed for %ds", age)
	}
	return e
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// RenewLock touches the lock file if it still names owner; it returns ErrLockLost when it does not.
func (b *Balancer) RenewLock(ctx context.Context, owner LockOwner) error {
	lock := shell.Quote(b.LockFile())
	res, err := b.sh(ctx, fmt.Sprintf(`if grep -qx %[2]s %[1]s 2>/dev/null; then touch %[1]s && echo OURS; else echo LOST; cat %[1]s 2>/dev/null; fi`, lock, shell.Quote("token="+owner.Token)))
	if err != nil {
		return fmt.Errorf("renew the pitstop lock %s on %s: %w%s", b.LockFile(), b.host(), err, res.tail())
	}
	out := res.stdout()
	if len(out) > 0 && out[0] == "OURS" {
		return nil
	}
	if len(out) > 1 {
		var held *LockHeldError
		if errors.As(b.heldError(out[1:]), &held) {
			return fmt.Errorf("%w: %s on %s now names %s", ErrLockLost, b.LockFile(), b.host(), held.Owner)
		}
	}
	return fmt.Errorf("%w: %s on %s was removed", ErrLockLost, b.LockFile(), b.host())
}

// ErrLockLost is returned by RenewLock when the lock file no longer names its owner.
var ErrLockLost = errors.New("the pitstop lock was lost")

// ReleaseLock removes the lock file if it still names owner.
func (b *Balancer) ReleaseLock(ctx context.Context, owner LockOwner) error {
	lock := shell.Quote(b.LockFile())
	_, err := b.sh(ctx, fmt.Sprintf(`if grep -qx %[2]s %[1]s 2>/dev/null; then rm -f %[1]s; fi`, lock, shell.Quote("token="+owner.Token)))
	return err
}
