package identity

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// Source names the identity service in its events.
const Source = "portal/identity"

// The event subjects: portal.events.identity.<type>.
var (
	SubjectLoggedIn        = events.Subject("identity", "logged_in")
	SubjectLoginFailed     = events.Subject("identity", "login_failed")
	SubjectLoggedOut       = events.Subject("identity", "logged_out")
	SubjectAccessDenied    = events.Subject("identity", "access_denied")
	SubjectTokenUsed       = events.Subject("identity", "token_used")
	SubjectTokenCreated    = events.Subject("identity", "token_created")
	SubjectTokenRevoked    = events.Subject("identity", "token_revoked")
	SubjectUserRoleChanged = events.Subject("identity", "user_role_changed")
	SubjectGrantChanged    = events.Subject("identity", "grant_changed")
)

// Outcomes of attempts (the portal-outcome header).
const (
	outcomeFailure = "failure"
	outcomeDenied  = "denied"
)

func event(subject, resource string, now time.Time, payload proto.Message) outbox.Event {
	return outbox.Event{Subject: subject, Source: Source, Resource: resource, Time: now, Payload: payload}
}

func loggedIn(ev *identityv1.LoggedIn, now time.Time) outbox.Event {
	return event(SubjectLoggedIn, "users/"+ev.GetPrincipal().GetSubject(), now, ev)
}

func loginFailed(ev *identityv1.LoginFailed, outcome string, now time.Time) outbox.Event {
	e := event(SubjectLoginFailed, "logins", now, ev)
	e.Outcome = outcome
	return e
}

func loggedOut(ev *identityv1.LoggedOut, now time.Time) outbox.Event {
	return event(SubjectLoggedOut, "users/"+ev.GetSubject(), now, ev)
}

func tokenEvent(subject string, t *identityv1.Token, payload proto.Message, now time.Time) outbox.Event {
	return event(subject, "tokens/"+t.GetId(), now, payload)
}

func userRoleChanged(u *identityv1.User, now time.Time) outbox.Event {
	return event(SubjectUserRoleChanged, "users/"+u.GetId(), now, &identityv1.UserRoleChanged{User: u})
}

func grantChanged(g *identityv1.Grant, now time.Time) outbox.Event {
	return event(SubjectGrantChanged, "grants/"+g.GetId(), now, &identityv1.GrantChanged{Grant: g})
}
