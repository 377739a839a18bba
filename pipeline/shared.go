package pipeline

import (
	"slices"
	"strings"

	"github.com/metapipe/metapipe/internal/records"
)

// SharedAccounts groups the clients that share an ad account (with or without act_): each
// group, two names or more, is fetched and counted once per client. Groups are ordered by
// account, names as the clients are.
func SharedAccounts(clients []records.Client) [][]string {
	by := map[string][]string{}
	var accounts []string
	for _, c := range clients {
		a := accountDigits(c)
		if a == "" {
			continue
		}
		if by[a] == nil {
			accounts = append(accounts, a)
		}
		by[a] = append(by[a], c.Name)
	}
	slices.Sort(accounts)
	var out [][]string
	for _, a := range accounts {
		if len(by[a]) > 1 {
			out = append(out, by[a])
		}
	}
	return out
}

// warnShared logs a warning per ad account that several of the run's clients share.
func (r *Runner) warnShared(clients []records.Client) {
	for _, names := range SharedAccounts(clients) {
		r.log.Warn("clients share an ad account: each is fetched and counted on its own (deactivate all but one: metapipe clients deactivate)",
			"clients", strings.Join(names, ", "))
	}
}
