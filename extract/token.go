package extract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Token is a Meta access token. It prints, logs and marshals as "[redacted]" so it cannot
// reach a log line, an error or a file by accident; Reveal is the one way to read it.
type Token struct{ v string }

// NewToken wraps a secret.
func NewToken(s string) Token { return Token{v: strings.TrimSpace(s)} }

// Reveal returns the secret, for the HTTP request only.
func (t Token) Reveal() string { return t.v }

// IsZero reports an empty token.
func (t Token) IsZero() bool { return t.v == "" }

func (t Token) String() string               { return "[redacted]" }
func (t Token) GoString() string             { return "extract.Token{[redacted]}" }
func (t Token) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (t Token) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// SimulatorTokenPrefix starts every token of the Graph API simulator (package graphsim):
// "sim-demo-token", "sim-token-<account>", "sim-expired-token". No Meta token starts so (Meta's
// start with "EAA").
const SimulatorTokenPrefix = "sim-"

// ErrSimulatorToken is a simulator token about to be sent to Meta: the demo's clients (their
// own tokens are the simulator's) run against graph.facebook.com because META_GRAPH_URL is not
// the simulator's URL. Nothing is sent; the client fails (not retried).
var ErrSimulatorToken = errors.New("the access token is the Graph API simulator's (sim-…), not Meta's: not sent to Meta; " +
	"set META_GRAPH_URL to the simulator (metapipe sim; make sim serves http://127.0.0.1:8787), or give the client a real token")

// refuseSimulatorToken returns ErrSimulatorToken when a simulator token would go to one of
// Meta's hosts (facebook.com and its subdomains).
func refuseSimulatorToken(u *url.URL, t Token) error {
	host := strings.ToLower(u.Hostname())
	if strings.HasPrefix(t.v, SimulatorTokenPrefix) && (host == "facebook.com" || strings.HasSuffix(host, ".facebook.com")) {
		return ErrSimulatorToken
	}
	return nil
}

// appSecretProof is hex(HMAC-SHA256(key = app secret, message = token)).
func appSecretProof(secret string, t Token) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t.v))
	return hex.EncodeToString(m.Sum(nil))
}

var secretParam = regexp.MustCompile(`(?i)(access_token|appsecret_proof|client_secret)=[^&\s"']*`)

// Scrub removes secrets from a text that may hold a URL or echo a request: every
// access_token/appsecret_proof parameter, and the given tokens wherever they appear.
func Scrub(s string, tokens ...Token) string {
	s = secretParam.ReplaceAllString(s, "$1=[redacted]")
	for _, t := range tokens {
		if len(t.v) >= 4 {
			s = strings.ReplaceAll(s, t.v, "[redacted]")
		}
	}
	return s
}

// scrubbedError carries a scrubbed message but keeps the original chain for errors.Is/As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubError(err error, t Token) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := Scrub(msg, t)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}
