package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pitstop-ops/pitstop/internal/nginx"
	"github.com/pitstop-ops/pitstop/internal/postgres"
	"github.com/pitstop-ops/pitstop/internal/rundeck"
	"github.com/pitstop-ops/pitstop/inventory"
)

// renewEvery is how often the lock is renewed and checked: a lost lock is noticed within it.
const renewEvery = 2 * time.Second

// OpenLocked is Open, then takes Pitstop's lock, so that two cockpits (or a cockpit and pitstop
// switch) cannot drive one inventory: what changes anything opens the world this way. The lock is
// a file beside the upstream file on the balancer host (it works with production's database down),
// with the advisory lock on production's database as a second layer when that database answers.
// Both are checked every two seconds while held; once either is lost, the engine makes no further
// change (steps.World.Lock). Close releases the lock.
func OpenLocked(ctx context.Context, inv *inventory.Inventory, opt Options) (*World, error) {
	w, err := Open(ctx, inv, opt)
	if err != nil {
		return nil, err
	}
	if w.Rundeck != nil {
		// Before anything changes: Rundeck answers, takes the token, and has every job.
		if _, err := rundeck.Check(ctx, w.Rundeck, inv); err != nil {
			w.Close()
			return nil, err
		}
	}
	if opt.Operator == "" {
		opt.Operator = "operator"
	}
	owner := nginx.NewOwner(opt.Operator)
	err = w.Nginx.TakeLock(ctx, owner, "")
	var held *nginx.LockHeldError
	if errors.As(err, &held) && held.Stale != "" && (opt.ConfirmTakeover != nil || opt.Reclaim != nil) {
		q := fmt.Sprintf("The pitstop lock %s on %s names %s and looks stale (%s). Take it over?", held.File, held.Host, held.Owner, held.Stale)
		if (opt.Reclaim != nil && opt.Reclaim(held.Owner)) || (opt.ConfirmTakeover != nil && opt.ConfirmTakeover(q)) {
			err = w.Nginx.TakeLock(ctx, owner, held.Owner.Token)
			if err == nil && opt.Note != nil {
				opt.Note(fmt.Sprintf("took over the stale pitstop lock of %s", held.Owner))
			}
		}
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	h := &lockHold{bal: w.Nginx, owner: owner}
	prod := inv.Sides.Production.Database
	h.db, err = w.DB.LockSession(ctx, prod)
	switch {
	case errors.Is(err, postgres.ErrLocked):
		_ = w.Nginx.ReleaseLock(context.WithoutCancel(ctx), owner)
		w.Close()
		return nil, err
	case err != nil:
		h.db = nil
		if opt.Note != nil {
			opt.Note(fmt.Sprintf("the database layer of the pitstop lock is not taken (%v); the lock file %s on %s holds", err, w.Nginx.LockFile(), inv.Balancer.Host))
		}
	}
	w.lock = h
	w.unlock = h.release
	h.start()
	return w, nil
}

// lockHold is a held lock, renewed and watched until released.
type lockHold struct {
	bal   *nginx.Balancer
	owner nginx.LockOwner
	db    *postgres.DBLock // nil when production's database did not answer

	mu       sync.Mutex
	lost     error
	failures int // consecutive renewals that could not reach the balancer
	stop     chan struct{}
	done     chan struct{}
}

func (h *lockHold) start() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(renewEvery)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.check()
			}
		}
	}()
}

// check renews the lock file and checks the database lock once. The checks run outside the mutex:
// Lost must answer at once.
func (h *lockHold) check() {
	ctx, cancel := context.WithTimeout(context.Background(), renewEvery)
	defer cancel()
	if h.Lost() != nil {
		return
	}
	renewErr := h.bal.RenewLock(ctx, h.owner)
	var dbErr error
	if h.db != nil {
		dbErr = h.db.Alive(ctx)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case errors.Is(renewErr, nginx.ErrLockLost):
		h.lost = renewErr
	case renewErr != nil:
		h.failures++
		if h.failures >= 3 {
			h.lost = fmt.Errorf("%w: the lock file could not be renewed for %s: %v", nginx.ErrLockLost, time.Duration(h.failures)*renewEvery, renewErr)
		}
	default:
		h.failures = 0
	}
	if h.lost == nil && dbErr != nil {
		h.lost = fmt.Errorf("%w: %v", nginx.ErrLockLost, dbErr)
	}
}

// Lost implements steps.LockWatch.
func (h *lockHold) Lost() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

func (h *lockHold) release() {
	close(h.stop)
	<-h.done
	if h.db != nil {
		h.db.Release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.bal.ReleaseLock(ctx, h.owner)
}
