package pipeline

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/internal/records"
)

// Options are the planning inputs shared by every command. Weeks and Lookback have no zero
// default (a lookback of 0 days is a lookback): the commands pass DefaultWeeks and
// DefaultLookback unless told otherwise.
type Options struct {
	AsOf     time.Time // the last day included (zero: each ad account's today)
	Weeks    int       // horizon in weeks, the current week included: 1 to MaxWeeks (the commands' default DefaultWeeks)
	Lookback int       // days after a week's Sunday before the week is final: 0 to MaxLookback (the commands' default DefaultLookback)
	Full     bool      // refetch the whole horizon
	Clients  []string  // names or ids; empty means every active client
	Shard    Shard     // a stable share of the clients
	// FleetSize is how many clients the whole run holds when its clients are planned one at a
	// time (the service's jobs), for the planner's choice between synchronous reads and report
	// runs (ReadPlanning); 0: the clients planned together.
	FleetSize int
}

// Shard is the i-th of n stable shares of the clients (0-based), for fanning a run out over
// several processes; the zero value takes every client.
type Shard struct{ Index, Count int }

// ParseShard reads "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Count); err != nil || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("%w: --shard %q: want i/n with 0 <= i < n", ErrUsage, s)
	}
	return sh, nil
}

// Has reports whether the client belongs to this shard (FNV-1a of its id, modulo n).
func (s Shard) Has(clientID string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(clientID))
	return int(h.Sum32()%uint32(s.Count)) == s.Index
}

// SelectClients picks the clients a run is for: the named ones (by name or id, active or
// not: naming one is asking for it), or every active client, then the shard's share. An
// unknown name is a usage error.
func SelectClients(all []records.Client, names []string, shard Shard) ([]records.Client, error) {
	var out []records.Client
	if len(names) == 0 {
		for _, c := range all {
			if c.Active {
				out = append(out, c)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			found := false
			for _, c := range all {
				if c.Name == n || strings.EqualFold(c.ID, n) {
					if !seen[c.ID] {
						out = append(out, c)
						seen[c.ID] = true
					}
					found = true
				}
			}
			if !found {
				return nil, &UnknownClientError{Name: n}
			}
		}
	}
	var sharded []records.Client
	for _, c := range out {
		if shard.Has(c.ID) {
			sharded = append(sharded, c)
		}
	}
	return sharded, nil
}

// BadAccountError is a client whose meta_ad_account_id is missing (Value "") or not an ad
// account id: permanent (Permanent) until the row is fixed.
type BadAccountError struct {
	Client, Value string
}

func (e *BadAccountError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("client %s: no meta_ad_account_id", e.Client)
	}
	return fmt.Sprintf("client %s: meta_ad_account_id %q is not act_<digits> or <digits>", e.Client, e.Value)
}

// ValidateAccount checks an ad account id: digits, with or without act_; a *BadAccountError
// when it is not one.
func ValidateAccount(c records.Client) error {
	a := strings.TrimPrefix(strings.TrimSpace(c.AdAccountID), "act_")
	if a == "" {
		return &BadAccountError{Client: c.Name}
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return &BadAccountError{Client: c.Name, Value: c.AdAccountID}
		}
	}
	return nil
}
