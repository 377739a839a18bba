-- metapipe_locks: the run locks of the clients and the migration lock, as lease rows (holder,
-- token, since, until, the holder's process); a row past its expires_at is free, and so is one
-- whose process is gone from the machine (and pid namespace) of whoever looks. They hold through any pooler, unlike
-- session advisory locks, and free themselves when their holder dies. Migrate creates the
-- table before it takes its own lock (load/lease.go, locksTable: the same statement); this
-- migration records it in the schema's version, so that a binary that needs it says
-- "run metapipe migrate" on a database migrated before it.

-- +goose Up
CREATE TABLE IF NOT EXISTS metapipe_locks (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    token       text        NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    instance    text        NOT NULL DEFAULT '',   -- the holder's boot and pid namespace
    pid         integer     NOT NULL DEFAULT 0     -- its process id there
);

-- +goose Down
DROP TABLE IF EXISTS metapipe_locks;
