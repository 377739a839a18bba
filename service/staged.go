package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
)

// sweepStaged removes this worker's staged folders (<stage-dir>/service/<run>/<client>) of
// clients that are over, whoever finished them: an attempt that failed here and was retried and
// loaded by another worker leaves files only this worker can see, as does a worker killed and
// started again. A folder of a client the database does not know (its run deleted) goes too.
// It returns how many client folders it removed. The worker sweeps when it starts and with
// every reconcile (30 s).
func (s *Service) sweepStaged(ctx context.Context) (int, error) {
	runs, err := os.ReadDir(s.stage)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep staged files: %w", err)
	}
	var runIDs, clientIDs []string
	for _, r := range runs {
		if !r.IsDir() {
			continue
		}
		clients, err := os.ReadDir(filepath.Join(s.stage, r.Name()))
		if err != nil {
			return 0, fmt.Errorf("sweep staged files: %w", err)
		}
		for _, c := range clients {
			if c.IsDir() {
				runIDs, clientIDs = append(runIDs, r.Name()), append(clientIDs, c.Name())
			}
		}
		if len(clients) == 0 {
			_ = os.Remove(filepath.Join(s.stage, r.Name()))
		}
	}
	if len(runIDs) == 0 {
		return 0, nil
	}
	rows, err := s.pool.Query(ctx, liveClients, overStates, runIDs, clientIDs)
	if err != nil {
		return 0, fmt.Errorf("sweep staged files: %w", err)
	}
	live := map[ClientRunArgs]bool{}
	var a ClientRunArgs
	if _, err := pgx.ForEachRow(rows, []any{&a.RunID, &a.ClientID}, func() error { live[a] = true; return nil }); err != nil {
		return 0, fmt.Errorf("sweep staged files: %w", err)
	}
	removed := 0
	for i := range runIDs {
		if a := (ClientRunArgs{RunID: runIDs[i], ClientID: clientIDs[i]}); !live[a] {
			s.removeStaged(a)
			removed++
		}
	}
	return removed, nil
}
