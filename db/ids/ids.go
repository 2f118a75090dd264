// Package ids makes the primary keys of every table: 21-character URL-safe random strings over the nanoid
// alphabet, drawn from crypto/rand (126 bits of randomness).
package ids

import (
	"crypto/rand"
	"strings"
)

// Alphabet is nanoid's URL-safe alphabet. Its 64 symbols let each random byte map to a symbol with a mask,
// without modulo bias.
const Alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"

// Length is the length of every id.
const Length = 21

// New returns a fresh id. It panics only if the operating system's random source fails, which leaves
// nothing safe to do.
func New() string {
	var b [Length]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = Alphabet[b[i]&63]
	}
	return string(b[:])
}

// Valid reports whether s has the shape of an id (length and alphabet), so handlers can reject junk
// before a database round trip.
func Valid(s string) bool {
	if len(s) != Length {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !strings.ContainsRune(Alphabet, rune(c)) {
			return false
		}
	}
	return true
}
