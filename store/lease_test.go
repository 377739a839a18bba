package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Run locks are lease rows: all or none, the holder named to whoever finds one held, free
// again once released or expired, and lost (the holder's context cancelled) when taken over.
func TestRunLocksAreLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newMigratedPool(t)
	c := func(id, name string) records.Client { return records.Client{ID: id, Name: name} }
	a := c("00000000-0000-0000-0000-00000000000a", "Client A")
	b := c("00000000-0000-0000-0000-00000000000B", "Client B") // upper case: the same lock as lower
	d := c("00000000-0000-0000-0000-00000000000d", "Client D")
	count := func(q string) int {
		var n int
		if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	one, err := LockClients(ctx, pool, []records.Client{a, b}, Lease{Holder: "holder one"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockClients(ctx, pool, []records.Client{d, {ID: strings.ToLower(b.ID), Name: b.Name}}, Lease{Holder: "holder two"})
	var busy *BusyError
	if !errors.As(err, &busy) || len(busy.Clients) != 1 || busy.Clients[0] != "Client B" || busy.Holders[0].Holder != "holder one" ||
		!strings.Contains(err.Error(), "another run holds client(s) Client B (held by holder one since") {
		t.Fatalf("second LockClients: %v, want a BusyError naming Client B and holder one", err)
	}
	if n := count(`SELECT count(*) FROM metapipe_locks WHERE name = 'run:00000000-0000-0000-0000-00000000000d'`); n != 0 {
		t.Errorf("client D locked by a LockClients that failed: all or none")
	}
	one.Release()
	two, err := LockClients(ctx, pool, []records.Client{b, d}, Lease{Holder: "holder two"})
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	two.Release()
	if n := count(`SELECT count(*) FROM metapipe_locks`); n != 0 {
		t.Errorf("%d locks left after Release", n)
	}

	// A holder that died: its lease expired; the next holder takes it at once.
	if _, err := pool.Exec(ctx, `INSERT INTO metapipe_locks (name, holder, token, expires_at)
		VALUES ('run:00000000-0000-0000-0000-00000000000a', 'dead', 'dead', now() - interval '1 second')`); err != nil {
		t.Fatal(err)
	}
	three, err := LockClients(ctx, pool, []records.Client{a}, Lease{Holder: "holder three", TTL: 2 * time.Second})
	if err != nil {
		t.Fatalf("an expired lease: %v", err)
	}
	defer three.Release()
	// Taken over (as after renewals that failed for longer than the lease): the holder's
	// renewal finds it gone and cancels what it bound.
	bound, stop := three.Bind(ctx)
	defer stop()
	if _, err := pool.Exec(ctx, `UPDATE metapipe_locks SET token = 'other', holder = 'other' WHERE holder = 'holder three'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bound.Done():
		if !errors.Is(context.Cause(bound), ErrLockLost) {
			t.Errorf("cause %v, want ErrLockLost", context.Cause(bound))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lost lease went unnoticed")
	}
}

// A migration waits for another at most its Wait, then says who holds the lock.
func TestMigrateWaitsThenNamesTheHolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newMigratedPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO metapipe_locks (name, holder, token, expires_at)
		VALUES ('migrate', 'metapipe migrate, host h pid 1', 'x', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	err := MigrateWith(ctx, pool, MigrateOptions{Wait: time.Second})
	var we *WaitError
	if !errors.As(err, &we) || we.Held[0].Holder != "metapipe migrate, host h pid 1" ||
		!strings.Contains(err.Error(), "the migration lock (migrate) is held by metapipe migrate, host h pid 1") {
		t.Fatalf("MigrateWith: %v, want a WaitError naming the holder", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE metapipe_locks SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if err := MigrateWith(ctx, pool, MigrateOptions{Wait: time.Second}); err != nil {
		t.Fatalf("after the holder's lease expired: %v", err)
	}
}

// The lock of a process of this machine that is gone (SIGKILL, a crash) is free at once; that
// of a live one, or of a process elsewhere, waits for its lease.
func TestLockOfAGoneProcessIsFreedAtOnce(t *testing.T) {
	t.Parallel()
	if thisInstance == "" {
		t.Skip("no /proc: only the lease frees a dead holder's locks")
	}
	ctx := context.Background()
	pool := newMigratedPool(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	cl := records.Client{ID: "00000000-0000-0000-0000-0000000000e1", Name: "Client E"}
	hold := func(instance string, pid int) {
		t.Helper()
		if _, err := pool.Exec(ctx, `DELETE FROM metapipe_locks`); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO metapipe_locks (name, holder, token, expires_at, instance, pid)
			VALUES ('run:00000000-0000-0000-0000-0000000000e1', 'metapipe run', 'x', now() + interval '1 hour', $1, $2)`, instance, pid); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		what     string
		instance string
		pid      int
		free     bool
	}{
		{"gone, this machine", thisInstance, dead.Process.Pid, true},
		{"alive, this machine", thisInstance, os.Getppid(), false},
		{"another machine", "another boot pid:[1]", dead.Process.Pid, false},
	} {
		hold(c.instance, c.pid)
		ls, err := LockClients(ctx, pool, []records.Client{cl}, Lease{Holder: "test"})
		var busy *BusyError
		switch {
		case c.free && err != nil:
			t.Errorf("%s: %v, want the lock", c.what, err)
		case !c.free && !errors.As(err, &busy):
			t.Errorf("%s: %v, want a BusyError", c.what, err)
		}
		ls.Release()
	}
}
