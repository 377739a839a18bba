package load

import (
	"hash/fnv"
	"strings"
)

// AdvisoryKey is the PostgreSQL advisory lock key of a client: FNV-64a of
// "metapipe:client:" and the lowercase client uuid. Load takes it with pg_advisory_xact_lock;
// the pipeline takes the same key with pg_try_advisory_lock for the length of a run, so
// two runs, or a run and a stage command, never load one client at once.
func AdvisoryKey(clientID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("metapipe:client:"))
	h.Write([]byte(strings.ToLower(strings.TrimSpace(clientID))))
	return int64(h.Sum64())
}
