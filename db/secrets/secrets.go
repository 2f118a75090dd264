// Package secrets is the encrypted-column codec (SPEC §4.9): AES-256-GCM with a random 96-bit nonce,
// stored as "v1:<keyId>:<base64(nonce|ciphertext|tag)>". The additional authenticated data binds a value
// to its table, column and row, so a ciphertext copied into another row or column does not decrypt.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Errors returned by Decrypt. None of them carries key material or plaintext.
var (
	ErrUnknownKey = errors.New("secrets: unknown key id")
	ErrMalformed  = errors.New("secrets: malformed ciphertext")
	ErrDecrypt    = errors.New("secrets: ciphertext does not authenticate (tampered, or moved from another row)")
)

const prefix = "v1"

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Field says where a value lives; it is the additional authenticated data.
type Field struct {
	Table  string
	Column string
	RowID  string
}

func (f Field) aad() []byte {
	// NUL cannot appear in identifiers or ids, so the three parts cannot be shifted into one another.
	return []byte(f.Table + "\x00" + f.Column + "\x00" + f.RowID)
}

// Keyring holds the keys named by ENCRYPTION_KEYS. The first key encrypts; every key decrypts by its id.
type Keyring struct {
	activeID string
	aeads    map[string]cipher.AEAD
	order    []string
}

// ParseKeyring parses "kid:base64key,kid2:base64key2". Keys must be 32 bytes (AES-256), in standard or
// URL-safe base64, padded or not; key ids are 1–32 characters of [A-Za-z0-9_-].
func ParseKeyring(spec string) (*Keyring, error) {
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, encoded, ok := strings.Cut(part, ":")
		if !ok || !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("entry %d: want <keyId>:<base64 key> with a key id of [A-Za-z0-9_-]{1,32}", i+1)
		}
		if _, dup := kr.aeads[id]; dup {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		key, err := decodeKey(encoded)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("key %q: want 32 bytes of base64 (AES-256)", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		kr.aeads[id] = aead
		kr.order = append(kr.order, id)
	}
	if len(kr.order) == 0 {
		return nil, errors.New("no keys given")
	}
	kr.activeID = kr.order[0]
	return kr, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// ActiveKeyID is the id of the key new values are encrypted with.
func (k *Keyring) ActiveKeyID() string { return k.activeID }

// Encrypt seals plaintext for the given field with the active key.
func (k *Keyring) Encrypt(plaintext string, f Field) (string, error) {
	aead := k.aeads[k.activeID]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	sealed := aead.Seal(buf, buf, []byte(plaintext), f.aad())
	return prefix + ":" + k.activeID + ":" + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt opens a value produced by Encrypt for the same field, with whichever key it names.
func (k *Keyring) Decrypt(value string, f Field) (string, error) {
	id, err := KeyID(value)
	if err != nil {
		return "", err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	raw, err := base64.StdEncoding.DecodeString(value[len(prefix)+1+len(id)+1:])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrMalformed
	}
	nonce, sealed := raw[:aead.NonceSize()], raw[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, f.aad())
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}

// KeyID returns the key id a stored value was encrypted with, so a re-encryption job can find values
// that are not on the active key.
func KeyID(value string) (string, error) {
	parts := strings.SplitN(value, ":", 3)
	if len(parts) != 3 || parts[0] != prefix || !keyIDPattern.MatchString(parts[1]) {
		return "", ErrMalformed
	}
	return parts[1], nil
}

// NeedsRotation reports whether value was encrypted with a key other than the active one.
func (k *Keyring) NeedsRotation(value string) bool {
	id, err := KeyID(value)
	return err == nil && id != k.activeID
}

// Secret is a string that must never be printed: fmt, zap and JSON all see it masked.
type Secret string

// Mask is what a Secret prints as.
const Mask = "********"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks %#v as well.
func (s Secret) GoString() string { return s.String() }

// MarshalText masks the value in JSON and text encodings (configuration dumps, log fields).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the plaintext, for the one place that has to use it.
func (s Secret) Reveal() string { return string(s) }
