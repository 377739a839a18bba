package extract

// Last returns what the usage headers of the account's last response said, and false when no
// response carried them yet: the headroom a planner weighs before it chooses how to read.
func (t *Throttle) Last() (Usage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usage, !t.updated.IsZero()
}
