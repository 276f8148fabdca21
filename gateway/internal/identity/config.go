package identity

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/platformportal/portal/platform/auth"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// Config configures login, sessions and roles. Load it with platform/config.
type Config struct {
	// OIDCIssuer is the OpenID Connect issuer URL (discovery is at
	// <issuer>/.well-known/openid-configuration).
	OIDCIssuer string `env:"OIDC_ISSUER, default=https://accounts.google.com"`
	// OIDCClientID is the client registered at the issuer; empty turns OIDC
	// login off.
	OIDCClientID string `env:"OIDC_CLIENT_ID"`
	// OIDCClientSecret is the client's secret (never logged).
	OIDCClientSecret string `env:"OIDC_CLIENT_SECRET"`
	// OIDCRedirectURL is the gateway's /auth/callback as the browser reaches
	// it, registered at the issuer.
	OIDCRedirectURL string `env:"OIDC_REDIRECT_URL"`
	// OIDCScopes are requested at login; openid is always among them.
	OIDCScopes []string `env:"OIDC_SCOPES, default=openid,email,profile"`
	// OIDCGroupsClaim is the ID token claim listing the user's groups.
	OIDCGroupsClaim string `env:"OIDC_GROUPS_CLAIM, default=groups"`

	// RoleRules map users to roles: "role=alice@example.com" (an email),
	// "role=@example.com" (a domain), "role=group:readers" (a group). The
	// highest role among matching rules applies.
	RoleRules []string `env:"AUTH_ROLE_RULES"`
	// DefaultRole is the role of a user no rule matches; empty refuses them.
	DefaultRole string `env:"AUTH_DEFAULT_ROLE"`

	// SessionIdle ends a session unused for this long.
	SessionIdle time.Duration `env:"AUTH_SESSION_IDLE, default=30m"`
	// SessionMax ends a session this long after login, however used.
	SessionMax time.Duration `env:"AUTH_SESSION_MAX, default=12h"`
	// CookieSecure marks cookies Secure and names the session cookie
	// __Host-portal_session; false only for plain-http development.
	CookieSecure bool `env:"AUTH_COOKIE_SECURE, default=true"`
	// DevLogin enables the password-less development login. Never in
	// production.
	DevLogin bool `env:"AUTH_DEV_LOGIN, default=false"`
}

// rule is one parsed AUTH_ROLE_RULES entry.
type rule struct {
	role   authv1.Role
	email  string // exact, lower case
	domain string // "@example.com", lower case
	group  string
}

func (r rule) matches(email string, groups []string) bool {
	email = strings.ToLower(email)
	switch {
	case r.email != "":
		return email == r.email
	case r.domain != "":
		return email != "" && strings.HasSuffix(email, r.domain)
	case r.group != "":
		return slices.Contains(groups, r.group)
	}
	return false
}

// roles maps users to base roles by the configured rules.
type roles struct {
	rules []rule
	def   authv1.Role
}

// of returns the highest role a matching rule gives, else the default
// (ROLE_UNSPECIFIED: refused).
func (m roles) of(email string, groups []string) authv1.Role {
	best := authv1.Role_ROLE_UNSPECIFIED
	for _, r := range m.rules {
		if r.role > best && r.matches(email, groups) {
			best = r.role
		}
	}
	if best == authv1.Role_ROLE_UNSPECIFIED {
		return m.def
	}
	return best
}

func parseRules(list []string) ([]rule, error) {
	var out []rule
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, match, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(match) == "" {
			return nil, fmt.Errorf("AUTH_ROLE_RULES: rule %q: want role=email, role=@domain or role=group:name", s)
		}
		role, err := auth.ParseRole(name)
		if err != nil {
			return nil, fmt.Errorf("AUTH_ROLE_RULES: rule %q: %v", s, err)
		}
		match = strings.TrimSpace(match)
		r := rule{role: role}
		switch {
		case strings.HasPrefix(match, "group:"):
			r.group = strings.TrimPrefix(match, "group:")
			if r.group == "" {
				return nil, fmt.Errorf("AUTH_ROLE_RULES: rule %q: empty group name", s)
			}
		case strings.HasPrefix(match, "@"):
			if len(match) < 2 || strings.Contains(match[1:], "@") {
				return nil, fmt.Errorf("AUTH_ROLE_RULES: rule %q: %q is not a domain", s, match)
			}
			r.domain = strings.ToLower(match)
		case strings.Count(match, "@") == 1 && !strings.HasSuffix(match, "@"):
			r.email = strings.ToLower(match)
		default:
			return nil, fmt.Errorf("AUTH_ROLE_RULES: rule %q: %q is neither an email, an @domain nor group:<name>", s, match)
		}
		out = append(out, r)
	}
	return out, nil
}

// validate checks the configuration and parses its role mapping. Each error
// names the variable to fix.
func (c Config) validate() (roles, error) {
	var m roles
	rules, err := parseRules(c.RoleRules)
	if err != nil {
		return m, err
	}
	m.rules = rules
	if strings.TrimSpace(c.DefaultRole) != "" {
		r, err := auth.ParseRole(c.DefaultRole)
		if err != nil {
			return m, fmt.Errorf("AUTH_DEFAULT_ROLE: %v", err)
		}
		m.def = r
	}
	if c.SessionIdle <= 0 {
		return m, errors.New("AUTH_SESSION_IDLE: must be positive")
	}
	if c.SessionMax <= 0 {
		return m, errors.New("AUTH_SESSION_MAX: must be positive")
	}
	if c.SessionIdle > c.SessionMax {
		return m, fmt.Errorf("AUTH_SESSION_IDLE (%s) is longer than AUTH_SESSION_MAX (%s)", c.SessionIdle, c.SessionMax)
	}
	if c.OIDCClientID == "" {
		return m, nil
	}
	u, err := url.Parse(c.OIDCIssuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return m, fmt.Errorf("OIDC_ISSUER: %q is not an http(s) URL", c.OIDCIssuer)
	}
	if c.OIDCRedirectURL == "" {
		return m, errors.New("OIDC_REDIRECT_URL: required when OIDC_CLIENT_ID is set (the gateway's /auth/callback as the browser reaches it)")
	}
	u, err = url.Parse(c.OIDCRedirectURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return m, fmt.Errorf("OIDC_REDIRECT_URL: %q is not an absolute http(s) URL", c.OIDCRedirectURL)
	}
	if c.OIDCClientSecret == "" {
		return m, errors.New("OIDC_CLIENT_SECRET: required when OIDC_CLIENT_ID is set")
	}
	return m, nil
}

// scopes are the configured scopes with openid first.
func (c Config) scopes() []string {
	out := []string{"openid"}
	for _, s := range c.OIDCScopes {
		if s = strings.TrimSpace(s); s != "" && s != "openid" {
			out = append(out, s)
		}
	}
	return out
}

// sessionCookie is the session cookie's name: the __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain, which plain http cannot
// give.
func (c Config) sessionCookie() string {
	if c.CookieSecure {
		return "__Host-portal_session"
	}
	return "portal_session"
}
