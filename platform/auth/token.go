package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Internal tokens are JWTs signed with HMAC-SHA256 under a key every process
// of one portal shares (PORTAL_INTERNAL_KEY). They live for TokenTTL at most,
// so a leaked one is soon useless, and never beyond the identity's Until, so
// a grant stops working at its end even in a token already sent.
const (
	// TokenTTL is the longest an internal token lives.
	TokenTTL = time.Minute
	issuer   = "platform-portal"
	audience = "platform-portal-services"
	// MinKeyBytes is the least key length accepted.
	MinKeyBytes = 32
)

// ErrInvalidToken means an internal token is malformed, forged or expired.
var ErrInvalidToken = errors.New("invalid internal token")

// Key is the shared secret internal tokens are signed with.
type Key struct{ b []byte }

// ParseKey reads a base64 key (standard or URL alphabet) of at least
// MinKeyBytes bytes.
func ParseKey(s string) (Key, error) {
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return Key{}, errors.New("the internal key must be base64")
	}
	if len(b) < MinKeyBytes {
		return Key{}, fmt.Errorf("the internal key has %d bytes; at least %d are needed (openssl rand -base64 32)", len(b), MinKeyBytes)
	}
	return Key{b: b}, nil
}

// NewKey makes a random key, for a single process (the all-in-one portal) or
// a test.
func NewKey() Key {
	b := make([]byte, MinKeyBytes)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return Key{b: b}
}

// IsZero reports whether the key is unset.
func (k Key) IsZero() bool { return len(k.b) == 0 }

// String hides the key from logs.
func (k Key) String() string { return "[redacted]" }

type claims struct {
	jwt.Claims
	Identity Identity `json:"id"`
}

// Mint signs a token for id, valid for TokenTTL or until id.Until if sooner.
func (k Key) Mint(id Identity, now time.Time) (string, error) {
	if k.IsZero() {
		return "", errors.New("mint internal token: no key")
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: k.b}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("mint internal token: %w", err)
	}
	exp := now.Add(TokenTTL)
	if !id.Until.IsZero() && id.Until.Before(exp) {
		exp = id.Until
	}
	c := claims{
		Claims: jwt.Claims{
			Issuer:    issuer,
			Audience:  jwt.Audience{audience},
			Subject:   id.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
			Expiry:    jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
		Identity: id,
	}
	tok, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("mint internal token: %w", err)
	}
	return tok, nil
}

// Verify checks a token's signature and times and returns its identity.
func (k Key) Verify(tok string, now time.Time) (Identity, error) {
	id, _, err := k.verify(tok, now)
	return id, err
}

// verify is Verify, also returning when the token expires.
func (k Key) verify(tok string, now time.Time) (Identity, time.Time, error) {
	if k.IsZero() {
		return Identity{}, time.Time{}, fmt.Errorf("%w: no key to verify it with", ErrInvalidToken)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var c claims
	if err := parsed.Claims(k.b, &c); err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, 0); err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Identity.Subject == "" || c.Identity.Subject != c.Subject || c.Expiry == nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: no subject or expiry", ErrInvalidToken)
	}
	return c.Identity, c.Expiry.Time(), nil
}
