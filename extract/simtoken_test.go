package extract

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// failTransport fails the test if any request is sent.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("a request was sent to %s", r.URL.Host)
	return nil, errors.New("no request expected")
}

// The simulator's tokens never reach Meta: a client whose token is a simulator token (the
// demo's clients, tried against the default Graph URL) fails at once with ErrSimulatorToken,
// not retried, and nothing is sent. Against another host (the simulator) it is sent as usual.
func TestSimulatorTokenIsNotSentToMeta(t *testing.T) {
	for _, base := range []string{"", DefaultGraphURL, "https://GRAPH.facebook.com/", "https://graph-video.facebook.com"} {
		c := NewClient(base, "", "")
		c.HTTP = &http.Client{Transport: failTransport{t}}
		for _, tok := range []string{"sim-demo-token", "sim-token-1010035716096012"} {
			_, err := c.Session("1010035716096012", NewToken(tok), nil).AdAccount(context.Background())
			if !errors.Is(err, ErrSimulatorToken) || ClassOf(err) != ClassFatal {
				t.Errorf("%q to %q: %v (class %v), want ErrSimulatorToken, fatal", tok, base, err, ClassOf(err))
			}
		}
	}
	if err := refuseSimulatorToken(mustURL(t, "http://127.0.0.1:8787/v25.0/act_1"), NewToken("sim-demo-token")); err != nil {
		t.Errorf("to the simulator: %v", err)
	}
	if err := refuseSimulatorToken(mustURL(t, DefaultGraphURL), NewToken("EAABsecret")); err != nil {
		t.Errorf("a Meta token to Meta: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
