package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// recentAccounts says which of the ad accounts (digits) are cached and were written or
// confirmed by Meta within Config.AccountMaxAge (ad_accounts.updated_at): their time zone and
// currency serve the plan at once, and Meta is asked again beside the reports
// (refreshAccounts). A negative AccountMaxAge makes none recent: every plan asks Meta first.
func (r *Runner) recentAccounts(ctx context.Context, ids []string) (map[string]bool, error) {
	age := r.cfg.AccountMaxAge
	out := map[string]bool{}
	if age < 0 || len(ids) == 0 {
		return out, nil
	}
	rows, err := r.pool.Query(ctx, `SELECT ad_account_id FROM ad_accounts WHERE ad_account_id = ANY($1::text[]) AND updated_at > now() - $2::interval`,
		ids, age)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// touchAccounts records that Meta confirmed the cached accounts unchanged now.
func (r *Runner) touchAccounts(ctx context.Context, accounts []records.AdAccount) error {
	if len(accounts) == 0 {
		return nil
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	_, err := r.pool.Exec(ctx, `UPDATE ad_accounts SET updated_at = now() WHERE ad_account_id = ANY($1::text[])`, ids)
	return err
}

// refreshAccounts asks Meta again, beside the reports, for the ad accounts the plan took from
// the cache (Plan.cached), and caches what changed: the next run plans with it. A time zone or
// currency that changed is logged (this run's weeks and amounts follow the cached one); an
// account Meta does not answer for keeps its cache. It never fails the run.
func (r *Runner) refreshAccounts(ctx context.Context, plan *Plan, clients []records.Client) {
	byID := map[string]records.Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	var ask []records.Client
	for _, cp := range plan.Clients {
		if c, ok := byID[cp.ID]; ok && plan.cached[cp.ID] {
			ask = append(ask, c)
		}
	}
	if len(ask) == 0 {
		return
	}
	cl := r.graphClient()
	var g errgroup.Group
	g.SetLimit(max(1, min(len(ask), 32)))
	results := make([]records.AdAccount, len(ask))
	for i, c := range ask {
		g.Go(func() error {
			tok := r.tokenFor(c)
			if tok.IsZero() {
				return nil
			}
			info, err := cl.Session(accountDigits(c), tok, extract.NewThrottle(r.cfg.Throttle)).AdAccount(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("ad account not refreshed, the cached time zone and currency stay", "client", c.Name, "ad_account", "act_"+accountDigits(c), "err", err)
				}
				return nil
			}
			results[i] = info
			return nil
		})
	}
	_ = g.Wait()
	planned := map[string]ClientPlan{}
	for _, cp := range plan.Clients {
		planned[cp.ID] = cp
	}
	var changed, confirmed []records.AdAccount
	for i, info := range results {
		if info.ID == "" {
			continue
		}
		cp := planned[ask[i].ID]
		if info.TimeZone != cp.TimeZone || info.Currency != cp.Currency {
			r.log.Warn("ad account changed since it was cached: this run used the cached time zone and currency, the next one uses Meta's",
				"client", ask[i].Name, "ad_account", "act_"+info.ID, "cached_time_zone", cp.TimeZone, "time_zone", info.TimeZone,
				"cached_currency", cp.Currency, "currency", info.Currency)
		}
		changed = append(changed, info) // SaveAdAccounts writes only what differs
		confirmed = append(confirmed, info)
	}
	if _, err := store.SaveAdAccounts(ctx, r.pool, changed); err != nil {
		r.log.Warn("ad accounts not cached", "err", err)
		return
	}
	if err := r.touchAccounts(ctx, confirmed); err != nil {
		r.log.Warn("ad accounts not confirmed in the cache", "err", err)
	}
}
