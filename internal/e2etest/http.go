package e2etest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Answer is an HTTP answer: its status, headers and body.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Call sends a request by c with the given Authorization header value ("" for none) and a
// JSON body ("" for none), and reads the whole answer; a failure to send or read fails the
// test.
func Call(t testing.TB, c *http.Client, method, url, auth, body string) Answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Answer{res.StatusCode, res.Header, b}
}
