package identity

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcClient discovers the issuer lazily: at the first login, and again at a
// later one after a failure (at most every retryAfter), so the gateway starts
// and serves everything else while the issuer is unreachable.
type oidcClient struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

const (
	discoveryTimeout = 10 * time.Second
	retryAfter       = 2 * time.Second
)

func (c *oidcClient) get(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oauth != nil {
		return c.oauth, c.verifier, nil
	}
	if c.lastErr != nil && time.Since(c.lastTry) < retryAfter {
		return nil, nil, c.lastErr
	}
	c.lastTry = time.Now()
	dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.cfg.OIDCIssuer)
	if err != nil {
		c.lastErr = fmt.Errorf("discover OIDC issuer %s: %w", c.cfg.OIDCIssuer, err)
		return nil, nil, c.lastErr
	}
	c.lastErr = nil
	c.oauth = &oauth2.Config{
		ClientID:     c.cfg.OIDCClientID,
		ClientSecret: c.cfg.OIDCClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  c.cfg.OIDCRedirectURL,
		Scopes:       c.cfg.scopes(),
	}
	c.verifier = p.Verifier(&oidc.Config{ClientID: c.cfg.OIDCClientID, Now: c.now})
	return c.oauth, c.verifier, nil
}
