package records

import "time"

// DayNumber converts a calendar date to days since 1970-01-01, the Parquet `date` encoding.
// Only the date of t counts, not its time or zone.
func DayNumber(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayTime converts days since 1970-01-01 back to a date, as UTC midnight.
func DayTime(days int32) time.Time {
	return time.Unix(int64(days)*86400, 0).UTC()
}
