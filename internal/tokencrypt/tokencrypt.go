// Package tokencrypt keeps the clients' Meta access tokens encrypted at rest, in
// clients.meta_access_token: AES-256-GCM (crypto/cipher) with a 32-byte key from the
// environment (METAPIPE_TOKEN_KEY), a random 96-bit nonce per token, and the client's id as
// the additional data, so that a token copied onto another client's row does not decrypt.
//
// A stored value is "enc:v1:<key id>:<base64url of nonce‖ciphertext‖tag>", the key id being
// the first 8 hex digits of the key's SHA-256; any other value is a token stored in plain text
// (what the old application and `metapipe migrate` before this one left), read as it is.
// METAPIPE_TOKEN_KEY_PREVIOUS, during a key rotation, decrypts what the previous key
// encrypted; `metapipe migrate` then encrypts again under the current key.
package tokencrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The environment of the keys.
const (
	EnvKey         = "METAPIPE_TOKEN_KEY"
	EnvPreviousKey = "METAPIPE_TOKEN_KEY_PREVIOUS"
)

const prefix = "enc:v1:"

// ErrNoKey is an encrypted token read without the key that encrypted it.
var ErrNoKey = errors.New("the token is encrypted and " + EnvKey + " (or " + EnvPreviousKey + ") does not hold its key")

// Keys are the current key, which encrypts, and an optional previous one, which only
// decrypts. The zero Keys encrypt nothing and decrypt only plain text.
type Keys struct {
	current, previous *key
}

type key struct {
	id   string
	aead cipher.AEAD
}

// FromEnv reads METAPIPE_TOKEN_KEY and METAPIPE_TOKEN_KEY_PREVIOUS: each 64 hex digits or the
// standard base64 of 32 bytes (`openssl rand -hex 32`); unset is no key. A malformed value is
// an error naming the variable, never its value.
func FromEnv() (Keys, error) {
	var k Keys
	var err error
	if k.current, err = parseKey(EnvKey, os.Getenv(EnvKey)); err != nil {
		return k, err
	}
	if k.previous, err = parseKey(EnvPreviousKey, os.Getenv(EnvPreviousKey)); err != nil {
		return k, err
	}
	if k.current == nil && k.previous != nil {
		return k, fmt.Errorf("%s is set without %s", EnvPreviousKey, EnvKey)
	}
	return k, nil
}

// New makes Keys of raw 32-byte keys (previous may be nil), for tests and tools.
func New(current, previous []byte) (Keys, error) {
	var k Keys
	var err error
	if k.current, err = newKey(current); err != nil {
		return k, err
	}
	if previous != nil {
		if k.previous, err = newKey(previous); err != nil {
			return k, err
		}
	}
	return k, nil
}

func parseKey(env, v string) (*key, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	raw, err := hex.DecodeString(v)
	if err != nil || len(raw) != 32 {
		raw, err = base64.StdEncoding.DecodeString(v)
	}
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%s: want 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)", env)
	}
	return newKey(raw)
}

func newKey(raw []byte) (*key, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("token key: %d bytes, want 32", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return &key{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// CanEncrypt says whether there is a current key.
func (k Keys) CanEncrypt() bool { return k.current != nil }

// Encrypt encrypts a client's token under the current key; without one it is ErrNoKey's
// sibling, an error saying to set METAPIPE_TOKEN_KEY.
func (k Keys) Encrypt(clientID, token string) (string, error) {
	if k.current == nil {
		return "", fmt.Errorf("%s is not set: tokens are stored encrypted with it (openssl rand -hex 32)", EnvKey)
	}
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := k.current.aead.Seal(nonce, nonce, []byte(token), []byte(clientID))
	return prefix + k.current.id + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Decrypt returns the token a stored value holds: plain text as it is, an encrypted value
// decrypted with the key it names (ErrNoKey without it; an error, never the value, when it does
// not open: another client's row, a damaged value).
func (k Keys) Decrypt(clientID, stored string) (string, error) {
	if !Encrypted(stored) {
		return stored, nil
	}
	kid, data, ok := strings.Cut(strings.TrimPrefix(stored, prefix), ":")
	if !ok {
		return "", errors.New("encrypted token: malformed")
	}
	var use *key
	for _, c := range []*key{k.current, k.previous} {
		if c != nil && c.id == kid {
			use = c
		}
	}
	if use == nil {
		return "", fmt.Errorf("%w (key id %s)", ErrNoKey, kid)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(data)
	n := use.aead.NonceSize()
	if err != nil || len(sealed) < n {
		return "", errors.New("encrypted token: malformed")
	}
	plain, err := use.aead.Open(nil, sealed[:n], sealed[n:], []byte(clientID))
	if err != nil {
		return "", errors.New("encrypted token: does not open with its key (not this client's, or damaged)")
	}
	return string(plain), nil
}

// Current says whether a stored value is encrypted under the current key (nothing to do for
// a migration).
func (k Keys) Current(stored string) bool {
	return k.current != nil && strings.HasPrefix(stored, prefix+k.current.id+":")
}

// Encrypted says whether a stored value is an encrypted token.
func Encrypted(stored string) bool { return strings.HasPrefix(stored, prefix) }
