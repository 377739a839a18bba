package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/store"
)

// accountLookup is a client's ad account as the plan knows it: info when known (from Meta, or
// from the cache when Meta did not answer), err when not.
type accountLookup struct {
	info      records.AdAccount
	err       error
	permanent bool // err will not go away by asking again
	// usage is what the usage headers of Meta's answer said (hasUsage), for the planner.
	usage    extract.Usage
	hasUsage bool
	fromMeta bool // info is Meta's answer of this run
	cached   bool // info is the cache's, recent enough not to ask Meta before the reports
}

// adAccounts reads the ad account of every client from the Graph API, one request each
// (Config.Concurrency at a time; under ConcurrencyAuto, AutoConcurrency.Start), for its time
// zone and currency, and caches what changed in
// ad_accounts. When Meta does not answer for an account, or the client has no token, the cached
// values serve; without them the client's lookup carries the error, and the client will fail
// alone. Only a database error fails the whole call.
func (r *Runner) adAccounts(ctx context.Context, clients []records.Client) (map[string]accountLookup, error) {
	var ids []string
	for _, c := range clients {
		if ValidateAccount(c) == nil {
			ids = append(ids, accountDigits(c))
		}
	}
	cached, err := store.ReadAdAccounts(ctx, r.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (has `metapipe migrate` run?)", ErrCannotStart, err)
	}
	out := make(map[string]accountLookup, len(clients))
	recent, err := r.recentAccounts(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	var ask []records.Client
	for _, c := range clients {
		if info, ok := cached[accountDigits(c)]; ok && recent[accountDigits(c)] && ValidateAccount(c) == nil {
			out[c.ID] = accountLookup{info: info, cached: true}
			continue
		}
		ask = append(ask, c)
	}
	var mu sync.Mutex
	var changed, confirmed []records.AdAccount
	cl := r.graphClient()
	var g errgroup.Group
	limit := r.cfg.Concurrency
	if limit == ConcurrencyAuto {
		limit = r.cfg.AutoConcurrency.Start
	}
	g.SetLimit(limit)
	for _, c := range ask {
		g.Go(func() error {
			l := r.lookupAccount(ctx, cl, c, cached)
			mu.Lock()
			defer mu.Unlock()
			out[c.ID] = l
			switch {
			case l.err != nil || !l.fromMeta:
			case cached[l.info.ID] != l.info:
				changed = append(changed, l.info)
			default:
				confirmed = append(confirmed, l.info)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, l := range out {
		var ve *extract.APIVersionError
		if errors.As(l.err, &ve) {
			return nil, fmt.Errorf("%w: %w", ErrUsage, ve) // the whole run's, not the client's
		}
	}
	if n, err := store.SaveAdAccounts(ctx, r.pool, changed); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	} else if n > 0 {
		r.log.Info("ad accounts cached", "changed", n)
	}
	if err := r.touchAccounts(ctx, confirmed); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotStart, err)
	}
	return out, nil
}

// lookupAccount asks Meta for one client's ad account, falling back on the cache.
func (r *Runner) lookupAccount(ctx context.Context, cl *extract.Client, c records.Client, cached map[string]records.AdAccount) accountLookup {
	if err := ValidateAccount(c); err != nil {
		return accountLookup{err: err, permanent: true}
	}
	id := accountDigits(c)
	tok := r.tokenFor(c)
	var err error
	if tok.IsZero() {
		err = ErrNoToken
	} else {
		var info records.AdAccount
		th := extract.NewThrottle(r.cfg.Throttle)
		if info, err = cl.Session(id, tok, th).AdAccount(ctx); err == nil {
			u, ok := th.Last()
			return accountLookup{info: info, usage: u, hasUsage: ok, fromMeta: true}
		}
	}
	if info, ok := cached[id]; ok && ctx.Err() == nil && !errors.Is(err, extract.ErrAPIVersion) {
		r.log.Warn("ad account not read, using the cached time zone and currency", "client", c.Name,
			"ad_account", "act_"+id, "time_zone", info.TimeZone, "currency", info.Currency, "err", err)
		return accountLookup{info: info}
	}
	return accountLookup{info: records.AdAccount{ID: id}, err: fmt.Errorf("client %s: %w", c.Name, err), permanent: Permanent(err)}
}
