package extract

import "time"

// Range is an inclusive range of dates in the ad account's calendar; Since is a Monday, so that
// Meta's 7-day buckets (counted from Since) are ISO weeks.
type Range struct {
	Since time.Time
	Until time.Time
}

// Weeks counts the weekly buckets in the range (the last may be partial).
func (r Range) Weeks() int { return int(r.Until.Sub(r.Since).Hours()/24)/7 + 1 }

func (r Range) String() string {
	return r.Since.Format(time.DateOnly) + ".." + r.Until.Format(time.DateOnly)
}

// split cuts the range in two on a week boundary.
func (r Range) split() (Range, Range) {
	half := r.Weeks() / 2
	mid := r.Since.AddDate(0, 0, 7*half)
	return Range{r.Since, mid.AddDate(0, 0, -1)}, Range{mid, r.Until}
}
