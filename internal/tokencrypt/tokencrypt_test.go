package tokencrypt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// A token encrypted for a client opens with its key for that client only: not for another
// client's row, not once altered, not with another key (ErrNoKey names the missing key);
// plain text reads as it is; the previous key opens what it encrypted; the value holds no
// trace of the token.
func TestEncryptDecrypt(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	keys, err := New(k1, nil)
	if err != nil {
		t.Fatal(err)
	}
	const tok = "EAAB-CANARY-token"
	enc, err := keys.Encrypt("client-a", tok)
	if err != nil || !Encrypted(enc) || strings.Contains(enc, tok) || !keys.Current(enc) {
		t.Fatalf("Encrypt: %q %v", enc, err)
	}
	if again, _ := keys.Encrypt("client-a", tok); again == enc {
		t.Error("two encryptions of one token are equal: the nonce is not random")
	}
	if got, err := keys.Decrypt("client-a", enc); got != tok || err != nil {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
	if _, err := keys.Decrypt("client-b", enc); err == nil {
		t.Error("another client's row opened the token")
	}
	altered := enc[:len(enc)-2] + "AA"
	if _, err := keys.Decrypt("client-a", altered); err == nil || strings.Contains(err.Error(), tok) {
		t.Errorf("an altered value: %v", err)
	}
	if got, err := keys.Decrypt("client-a", "plain-old-token"); got != "plain-old-token" || err != nil {
		t.Errorf("plain text: %q %v", got, err)
	}
	other, _ := New(k2, nil)
	if _, err := other.Decrypt("client-a", enc); !errors.Is(err, ErrNoKey) {
		t.Errorf("another key: %v, want ErrNoKey", err)
	}
	rotated, _ := New(k2, k1)
	if got, err := rotated.Decrypt("client-a", enc); got != tok || err != nil || rotated.Current(enc) {
		t.Errorf("the previous key: %q %v (current %v)", got, err, rotated.Current(enc))
	}
	if _, err := (Keys{}).Encrypt("client-a", tok); err == nil || !strings.Contains(err.Error(), EnvKey) {
		t.Errorf("no key: %v, want an error naming %s", err, EnvKey)
	}
	t.Setenv(EnvKey, "not-a-key")
	if _, err := FromEnv(); err == nil || strings.Contains(err.Error(), "not-a-key") || !strings.Contains(err.Error(), EnvKey) {
		t.Errorf("a malformed key: %v, want an error naming the variable, not the value", err)
	}
	t.Setenv(EnvKey, hex.EncodeToString(k1))
	if k, err := FromEnv(); err != nil || !k.Current(enc) {
		t.Errorf("FromEnv of the hex key: %v", err)
	}
}
