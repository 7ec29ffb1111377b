package twitter

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// apiKeyPrefix marks the project's keys so they are recognisable in logs
// and secret scanners.
const apiKeyPrefix = "tw_"

// apiKeyLen is the length of a key: the prefix and 32 random bytes in
// unpadded base64url.
var apiKeyLen = len(apiKeyPrefix) + base64.RawURLEncoding.EncodedLen(32)

// NewAPIKey returns a fresh random key and the hash to store in its place.
func NewAPIKey() (key string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand panics rather than return short reads
	key = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key)
}

// HashAPIKey returns the SHA-256 of key; keys are random, so no salt is needed.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// WellFormedAPIKey reports whether key could have come from NewAPIKey, so
// obvious garbage is refused without a database lookup.
func WellFormedAPIKey(key string) bool {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, apiKeyPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(key[len(apiKeyPrefix):])
	return err == nil
}
