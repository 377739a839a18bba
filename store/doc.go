// Package load owns the database side of metapipe: the schema migrations, the clients and
// sync-state reads, and the load of transform/summaries.parquet into campaign_summaries.
//
// Connections come from [PoolConfig] (pgx's exec mode: no prepared statement outlives a
// statement, so a transaction pooler works). The run locks a run or a job holds for its whole
// length ([LockClients]) and the migration locks are lease rows of metapipe_locks, renewed in
// the background and free once expired; nothing metapipe relies on outlives a transaction. The
// load's transaction-level advisory locks have their keys from [LockKey].
//
// A load is one transaction. It takes a transaction-level advisory lock per client in
// ascending key order, reads the stored (key, content hash) pairs of those clients in one
// query, streams the Parquet file through a pgx CopyFromSource that skips unchanged rows and
// duplicate keys into a temporary staging table whose columns, like the COPY values, follow
// records.SummaryColumns by name, merges the staging table with one
// INSERT … ON CONFLICT … DO UPDATE … WHERE the hash differs, and upserts client_sync_state in
// the same transaction. Deadlocks and lock timeouts retry the whole transaction; any other
// failure rolls it back and leaves every table as it was.
package store
