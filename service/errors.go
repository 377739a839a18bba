package service

// The service's errors are typed; cmd/metapipe maps them to exit codes (docs/DESIGN.md, "Exit
// codes"): a ConfigError is a usage error (2), a StartError "cannot start" (3).

// ConfigError is a Config that cannot work: Setting names what is wrong (notifications,
// --schedule, River's configuration), Err says why.
type ConfigError struct {
	Setting string
	Err     error
}

func (e *ConfigError) Error() string { return e.Setting + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// StartError is the service unable to do what it was asked, nothing done: What names the
// step (the schemas, the workers, queuing a run), Err the cause (a database error, metapipe's
// or River's schema missing or older than this binary's).
type StartError struct {
	What string
	Err  error
}

func (e *StartError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }
