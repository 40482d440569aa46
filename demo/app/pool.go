package app

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pool is a small pool of database connections. (pgxpool would need github.com/jackc/puddle/v2, which
// the module does not carry.) It connects lazily, so the application starts while its database is
// down, and it pings a connection that sat idle for more than a second before handing it out, so a
// database restart costs a reconnect rather than a failed request.
type pool struct {
	cfg  *pgx.ConnConfig
	slot chan struct{} // one token per connection in use
	idle chan idleConn
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// pingAfter is how long a connection may sit idle before it is checked on its way out of the pool.
const pingAfter = time.Second

func newConnPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, slot: make(chan struct{}, size), idle: make(chan idleConn, size)}
}

// with runs fn on a pooled connection and returns fn's error.
func (p *pool) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	p.release(c, err)
	return err
}

func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case ic := <-p.idle:
			if ic.conn.IsClosed() {
				continue
			}
			if time.Since(ic.since) > pingAfter {
				if err := ic.conn.Ping(ctx); err != nil {
					ic.conn.Close(context.Background())
					if ctx.Err() != nil {
						<-p.slot
						return nil, ctx.Err()
					}
					continue
				}
			}
			return ic.conn, nil
		default:
			c, err := pgx.ConnectConfig(ctx, p.cfg)
			if err != nil {
				<-p.slot
				return nil, err
			}
			return c, nil
		}
	}
}

// release returns c to the pool, or closes it when the error it met was not the server's answer
// (a broken or timed-out connection is not worth keeping).
func (p *pool) release(c *pgx.Conn, err error) {
	var pgErr *pgconn.PgError
	if c.IsClosed() || (err != nil && !errors.As(err, &pgErr)) || (pgErr != nil && isFatal(pgErr)) {
		c.Close(context.Background())
	} else {
		p.idle <- idleConn{conn: c, since: time.Now()} // never blocks: idle has one place per slot
	}
	<-p.slot
}

// isFatal reports a server error after which the session is gone (terminated, shut down).
func isFatal(e *pgconn.PgError) bool {
	return e.Severity == "FATAL" || e.Severity == "PANIC"
}

// close closes every idle connection. Connections in use are closed when released afterwards only
// if broken; call close after the HTTP server has stopped.
func (p *pool) close() {
	for {
		select {
		case ic := <-p.idle:
			ic.conn.Close(context.Background())
		default:
			return
		}
	}
}
