package service

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/riverqueue/river"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/transform"
)

// refetchStep reads again, once in the run, each kind and week of the client whose sums
// disagree with the account's totals in tres (pipeline.RefetchDisagreeing), replacing their
// staged rows; it returns what it read again (kept in the client's refetch directory,
// extract.RefetchDir, as read_again.json) and whether it read anything now: the caller
// transforms again. An attempt that finds that directory made by an earlier one does not read
// again, and returns the records the earlier one kept. A failed read is logged and leaves the
// first read's rows.
func (s *Service) refetchStep(ctx context.Context, job *river.Job[ClientRunArgs], cr *clientRun, cp *pipeline.ClientPlan, dir records.RunDir, tres transform.Result) ([]pipeline.RefetchRecord, bool, error) {
	a := job.Args
	refetchDir := filepath.Join(string(dir.Client(a.ClientID)), extract.RefetchDir)
	kept := filepath.Join(refetchDir, "read_again.json")
	if _, err := os.Stat(refetchDir); err == nil {
		var rs []pipeline.RefetchRecord
		if b, err := records.ReadFileIfExists(kept); err == nil && b != nil {
			_ = json.Unmarshal(b, &rs)
		}
		return rs, false, nil // read again by an earlier attempt
	}
	todo := pipeline.Disagreeing(tres.Warnings)[a.ClientID]
	if len(todo) == 0 {
		return nil, false, nil
	}
	x := s.runner.Extractor()
	x.Throttle.Fleet = notifyingFleet{s.fleet, s, a}
	req := extract.Request{ClientID: a.ClientID, ClientName: cr.client.Name, Account: cp.Account,
		Token: s.runner.TokenFor(cr.client), Dir: dir.Client(a.ClientID)}
	rs, st, err := pipeline.RefetchDisagreeing(ctx, x, req, cp.Range().Until, todo)
	s.metrics.throttleWait.Add(st.ThrottleWait.Seconds())
	for _, r := range rs {
		s.log.Info("read again: its sums disagreed with the account's", "run", a.RunID, "client", cr.client.Name, "kind", r.Kind, "week", r.Week, "rows", r.Rows, "err", r.Error)
	}
	if err != nil {
		return nil, false, err
	}
	b, _ := json.Marshal(rs)
	if err := records.WriteFile(kept, b); err != nil {
		return nil, false, err
	}
	return rs, len(rs) > 0, nil
}
