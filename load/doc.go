// Package load owns the database side of metapipe: the schema migrations, the clients and
// sync-state reads, and the load of transform/summaries.parquet into campaign_summaries.
//
// A load is one transaction. It takes a transaction-level advisory lock per client in
// ascending key order, reads the stored (key, content hash) pairs of those clients in one
// query, streams the Parquet file through a pgx CopyFromSource that skips unchanged rows and
// duplicate keys into a temporary staging table, merges the staging table with one
// INSERT … ON CONFLICT … DO UPDATE … WHERE the hash differs, and upserts client_sync_state in
// the same transaction. Deadlocks and lock timeouts retry the whole transaction; any other
// failure rolls it back and leaves every table as it was.
package load
