package identity

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/natsserver"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{vars: map[string]string{"AUTH_DEV_LOGIN": "true"}})
	ctx := context.Background()
	admin, _ := e.devLogin(e.browser(), "ada@example.com", "admin")
	c := e.client(admin)

	created, err := c.CreateToken(ctx, &identityv1.CreateTokenRequest{Name: "deploy-bot", Role: authv1.Role_ROLE_OPERATOR,
		Ttl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	secret := created.GetSecret()
	if !strings.HasPrefix(secret, "ppt_") || len(secret) < 40 || !strings.HasPrefix(secret, created.GetToken().GetPrefix()) {
		t.Fatalf("secret %q, prefix %q: want ppt_ and 32 random bytes, starting with the prefix", secret, created.GetToken().GetPrefix())
	}
	if _, err := c.CreateToken(ctx, &identityv1.CreateTokenRequest{Name: "deploy-bot", Role: authv1.Role_ROLE_VIEWER}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second token named deploy-bot: %v, want AlreadyExists", err)
	}

	// Stored hashed only: the secret appears nowhere in the table.
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM identity.api_tokens WHERE hash = $1`, sha(secret)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("tokens with the secret's hash = %d, %v", n, err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM identity.api_tokens t WHERE position($1 in t::text) > 0`, secret).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token rows containing the secret = %d, %v; want 0", n, err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM identity.outbox WHERE position($1::bytea in payload) > 0`, []byte(secret)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("events containing the secret = %d, %v; want 0", n, err)
	}

	// Usable over HTTP, as a bearer token.
	b := e.browser()
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	id, w := e.whoami(b, "GET", bearer)
	if w.status != http.StatusOK || id.Kind != auth.KindToken || id.Role != authv1.Role_ROLE_OPERATOR || id.Actor() != "token:deploy-bot" {
		t.Fatalf("whoami with the token = %d %s", w.status, w.body)
	}
	if want := e.clock.Now().Add(time.Hour); !id.Until.Equal(want.Truncate(time.Microsecond)) {
		t.Errorf("Until = %v, want the token's expiry %v", id.Until, want)
	}
	e.whoami(b, "GET", bearer) // a second use within the minute: no second TokenUsed
	if used := e.events(SubjectTokenUsed); len(used) != 1 || used[0].actor != "token:deploy-bot" {
		t.Fatalf("TokenUsed events = %+v, want one by token:deploy-bot", used)
	}
	e.clock.Advance(61 * time.Second)
	e.whoami(b, "GET", bearer)
	if used := e.events(SubjectTokenUsed); len(used) != 2 {
		t.Fatalf("TokenUsed events after a minute = %d, want 2", len(used))
	}

	// Usable directly over gRPC: the guard introspects it.
	me, err := e.clientWith(grpc.WithPerRPCCredentials(bearerCreds(secret))).GetMe(ctx, &identityv1.GetMeRequest{})
	if err != nil || me.GetPrincipal().GetKind() != identityv1.PrincipalKind_PRINCIPAL_KIND_TOKEN {
		t.Fatalf("GetMe with the token = %v, %v", me, err)
	}
	in, err := c.IntrospectToken(ctx, &identityv1.IntrospectTokenRequest{Secret: secret})
	if err != nil || in.GetPrincipal().GetName() != "deploy-bot" || in.GetValidUntil() == nil {
		t.Fatalf("IntrospectToken = %v, %v", in, err)
	}
	_, err = c.IntrospectToken(ctx, &identityv1.IntrospectTokenRequest{Secret: "ppt_forged"})
	wantCode(t, "IntrospectToken(forged)", err, codes.Unauthenticated)

	list, err := c.ListTokens(ctx, &identityv1.ListTokensRequest{})
	if err != nil || len(list.GetTokens()) != 1 || list.GetTokens()[0].GetLastUseTime() == nil {
		t.Fatalf("ListTokens = %v, %v", list, err)
	}

	if _, err := c.RevokeToken(ctx, &identityv1.RevokeTokenRequest{Id: created.GetToken().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, w = e.whoami(b, "GET", bearer)
	if w.status != http.StatusUnauthorized || w.reason() != ReasonTokenRevoked {
		t.Fatalf("whoami with the revoked token = %d %s, want 401 %s", w.status, w.body, ReasonTokenRevoked)
	}
	_, err = c.RevokeToken(ctx, &identityv1.RevokeTokenRequest{Id: created.GetToken().GetId()})
	wantCode(t, "RevokeToken again", err, codes.FailedPrecondition)
	list, _ = c.ListTokens(ctx, &identityv1.ListTokensRequest{})
	if len(list.GetTokens()) != 0 {
		t.Errorf("ListTokens without inactive = %v, want none", list.GetTokens())
	}
	list, _ = c.ListTokens(ctx, &identityv1.ListTokensRequest{ShowInactive: true})
	if len(list.GetTokens()) != 1 || list.GetTokens()[0].GetRevokeTime() == nil {
		t.Errorf("ListTokens with inactive = %v, want the revoked one", list.GetTokens())
	}

	for _, tt := range []struct {
		subject string
		actor   string
	}{{SubjectTokenCreated, "dev:ada@example.com"}, {SubjectTokenRevoked, "dev:ada@example.com"}} {
		if evs := e.events(tt.subject); len(evs) != 1 || evs[0].actor != tt.actor {
			t.Errorf("%s events = %+v, want one by %s", tt.subject, evs, tt.actor)
		}
	}

	// An expired token is refused, and gives its name up.
	short, err := c.CreateToken(ctx, &identityv1.CreateTokenRequest{Name: "short", Role: authv1.Role_ROLE_VIEWER, Ttl: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	_, w = e.whoami(b, "GET", map[string]string{"Authorization": "Bearer " + short.GetSecret()})
	if w.status != http.StatusUnauthorized || w.reason() != ReasonTokenExpired {
		t.Fatalf("whoami with the expired token = %d %s, want 401 %s", w.status, w.body, ReasonTokenExpired)
	}
	if _, err := c.CreateToken(ctx, &identityv1.CreateTokenRequest{Name: "short", Role: authv1.Role_ROLE_VIEWER}); err != nil {
		t.Fatalf("reuse of an expired token's name: %v", err)
	}

	// Viewers and operators may not manage tokens (the guard says so).
	viewer, _ := e.devLogin(e.browser(), "vic@example.com", "viewer")
	_, err = e.client(viewer).CreateToken(ctx, &identityv1.CreateTokenRequest{Name: "x", Role: authv1.Role_ROLE_ADMIN})
	wantCode(t, "CreateToken as a viewer", err, codes.PermissionDenied)
}

type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearerCreds) RequireTransportSecurity() bool { return false }

func TestCreateTokenDirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noOIDC: true})
	secret, err := e.svc.CreateTokenDirect(context.Background(), "first-admin", authv1.Role_ROLE_ADMIN, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, w := e.whoami(e.browser(), "GET", map[string]string{"Authorization": "Bearer " + secret})
	if w.status != http.StatusOK || id.Role != authv1.Role_ROLE_ADMIN || !id.Until.IsZero() {
		t.Fatalf("whoami = %d %s, want an admin token with no expiry", w.status, w.body)
	}
	evs := e.events(SubjectTokenCreated)
	if len(evs) != 1 || evs[0].actor != "cli" || evs[0].payload.(*identityv1.TokenCreated).GetToken().GetCreator() != "cli" {
		t.Fatalf("TokenCreated = %+v, want one by cli", evs)
	}
	if _, err := e.svc.CreateTokenDirect(context.Background(), "bad name", authv1.Role_ROLE_ADMIN, 0); err == nil {
		t.Error("CreateTokenDirect(bad name) = nil, want an error")
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	// The real clock: the grant must stop working at its expiry by itself.
	e := newEnv(t, envOptions{realClock: true, vars: map[string]string{"AUTH_DEV_LOGIN": "true"}})
	ctx := context.Background()
	vicB := e.browser()
	vic, _ := e.devLogin(vicB, "vic@example.com", "viewer")
	ada, _ := e.devLogin(e.browser(), "ada@example.com", "admin")
	opB := e.browser()
	op, _ := e.devLogin(opB, "otto@example.com", "operator")
	asVic, asAda := e.client(vic), e.client(ada)

	_, err := asVic.RequestGrant(ctx, &identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_VIEWER, Reason: "look", Duration: durationpb.New(time.Minute)})
	wantCode(t, "RequestGrant(viewer) by a viewer", err, codes.InvalidArgument) // the proto allows operator and admin only
	_, err = e.client(op).RequestGrant(ctx, &identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_OPERATOR, Reason: "ops", Duration: durationpb.New(time.Minute)})
	wantCode(t, "RequestGrant(operator) by an operator", err, codes.FailedPrecondition)
	if !strings.Contains(err.Error(), "already has the operator role") {
		t.Errorf("error = %v, want it to say why", err)
	}
	_, err = e.clientWith(grpc.WithPerRPCCredentials(bearerCreds(mustToken(t, e)))).RequestGrant(ctx,
		&identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_ADMIN, Reason: "bot", Duration: durationpb.New(time.Minute)})
	wantCode(t, "RequestGrant by a token", err, codes.FailedPrecondition)

	req, err := asVic.RequestGrant(ctx, &identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_OPERATOR, Reason: "incident 42", Duration: durationpb.New(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	g := req.GetGrant()
	if g.GetState() != identityv1.GrantState_GRANT_STATE_PENDING || g.GetUserEmail() != "vic@example.com" {
		t.Fatalf("requested grant = %v, want pending for vic", g)
	}
	if id, _ := e.whoami(vicB, "GET", nil); id.Role != authv1.Role_ROLE_VIEWER {
		t.Fatalf("role with a pending grant = %v, want viewer", id.Role)
	}

	// otto, an operator, gets admin for a while; then approving his own
	// second request is refused although he is an admin by then.
	og, err := e.client(op).RequestGrant(ctx, &identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_ADMIN, Reason: "release", Duration: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asAda.ApproveGrant(ctx, &identityv1.ApproveGrantRequest{Id: og.GetGrant().GetId()}); err != nil {
		t.Fatal(err)
	}
	op, _ = e.whoami(opB, "GET", nil)
	if op.Role != authv1.Role_ROLE_ADMIN || op.BaseRole != authv1.Role_ROLE_OPERATOR {
		t.Fatalf("otto with his grant = %v (base %v), want admin on operator", op.Role, op.BaseRole)
	}
	og2, err := e.client(op).RequestGrant(ctx, &identityv1.RequestGrantRequest{Role: authv1.Role_ROLE_ADMIN, Reason: "more", Duration: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client(op).ApproveGrant(ctx, &identityv1.ApproveGrantRequest{Id: og2.GetGrant().GetId()})
	wantCode(t, "self-approval", err, codes.PermissionDenied)
	if !strings.Contains(err.Error(), "own grant") {
		t.Errorf("self-approval error = %v, want it to say why", err)
	}
	if _, err := asAda.DenyGrant(ctx, &identityv1.DenyGrantRequest{Id: og2.GetGrant().GetId(), Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	if _, err := asAda.RevokeGrant(ctx, &identityv1.RevokeGrantRequest{Id: og.GetGrant().GetId(), Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	if op, _ = e.whoami(opB, "GET", nil); op.Role != authv1.Role_ROLE_OPERATOR {
		t.Fatalf("otto after revocation = %v, want operator", op.Role)
	}

	// Vic's grant: approved, used, expiring by itself.
	approved, err := asAda.ApproveGrant(ctx, &identityv1.ApproveGrantRequest{Id: g.GetId(), Reason: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	exp := approved.GetGrant().GetExpireTime().AsTime()
	if approved.GetGrant().GetState() != identityv1.GrantState_GRANT_STATE_ACTIVE || approved.GetGrant().GetDecidedBy() != "dev:ada@example.com" {
		t.Fatalf("approved grant = %v", approved.GetGrant())
	}
	_, err = asAda.ApproveGrant(ctx, &identityv1.ApproveGrantRequest{Id: g.GetId()})
	wantCode(t, "approving an active grant", err, codes.FailedPrecondition)

	raised, w := e.whoami(vicB, "GET", nil)
	if w.status != http.StatusOK || raised.Role != authv1.Role_ROLE_OPERATOR || raised.BaseRole != authv1.Role_ROLE_VIEWER || !raised.Until.Equal(exp) {
		t.Fatalf("vic with the grant = %+v, want operator on viewer until %v", raised, exp)
	}
	me, err := e.client(raised).GetMe(ctx, &identityv1.GetMeRequest{})
	if err != nil || len(me.GetGrants()) != 1 || me.GetGrants()[0].GetState() != identityv1.GrantState_GRANT_STATE_ACTIVE {
		t.Fatalf("GetMe grants = %v, %v; want the active one", me.GetGrants(), err)
	}
	// A non-admin sees only their own grants.
	mine, err := asVic.ListGrants(ctx, &identityv1.ListGrantsRequest{})
	if err != nil || len(mine.GetGrants()) != 1 || mine.GetGrants()[0].GetUserEmail() != "vic@example.com" {
		t.Fatalf("vic's ListGrants = %v, %v; want only his", mine.GetGrants(), err)
	}
	all, _ := asAda.ListGrants(ctx, &identityv1.ListGrantsRequest{})
	if len(all.GetGrants()) != 3 {
		t.Errorf("ada's ListGrants = %d grants, want 3", len(all.GetGrants()))
	}

	eventually(t, 5*time.Second, "the grant stops raising vic's role", func() error {
		id, w := e.whoami(vicB, "GET", nil)
		if w.status != http.StatusOK || id.Role != authv1.Role_ROLE_VIEWER {
			return status.Errorf(codes.Unknown, "role %v", id.Role)
		}
		return nil
	})
	if time.Now().Before(exp) {
		t.Fatalf("role dropped before the grant's expiry %v", exp)
	}
	expired, _ := asVic.ListGrants(ctx, &identityv1.ListGrantsRequest{State: identityv1.GrantState_GRANT_STATE_EXPIRED})
	if len(expired.GetGrants()) != 1 || expired.GetGrants()[0].GetState() != identityv1.GrantState_GRANT_STATE_EXPIRED {
		t.Fatalf("expired grants = %v, want vic's, reading EXPIRED", expired.GetGrants())
	}
	_, err = asAda.RevokeGrant(ctx, &identityv1.RevokeGrantRequest{Id: g.GetId()})
	wantCode(t, "revoking an expired grant", err, codes.FailedPrecondition)

	// The sweep puts the expiry on the record, once, as the system.
	before := len(e.events(SubjectGrantChanged))
	for range 2 {
		if err := e.svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.events(SubjectGrantChanged)
	if len(evs) != before+1 {
		t.Fatalf("two sweeps wrote %d GrantChanged events; want 1", len(evs)-before)
	}
	last := evs[len(evs)-1]
	if gr := last.payload.(*identityv1.GrantChanged).GetGrant(); gr.GetId() != g.GetId() || gr.GetState() != identityv1.GrantState_GRANT_STATE_EXPIRED || last.actor != "system" {
		t.Fatalf("sweep event = %v by %q; want vic's grant EXPIRED by system", gr, last.actor)
	}

	// Every change, with its actor.
	var actors []string
	for _, ev := range evs[:before] {
		actors = append(actors, ev.actor+":"+ev.payload.(*identityv1.GrantChanged).GetGrant().GetState().String())
	}
	want := []string{
		"dev:vic@example.com:GRANT_STATE_PENDING", "dev:otto@example.com:GRANT_STATE_PENDING",
		"dev:ada@example.com:GRANT_STATE_ACTIVE", "dev:otto@example.com:GRANT_STATE_PENDING",
		"dev:ada@example.com:GRANT_STATE_DENIED", "dev:ada@example.com:GRANT_STATE_REVOKED",
		"dev:ada@example.com:GRANT_STATE_ACTIVE",
	}
	if strings.Join(actors, " ") != strings.Join(want, " ") {
		t.Errorf("GrantChanged events =\n%v\nwant\n%v", actors, want)
	}
}

func mustToken(t *testing.T, e *env) string {
	t.Helper()
	s, err := e.svc.CreateTokenDirect(context.Background(), "bot-"+randomString(4)[:4], authv1.Role_ROLE_VIEWER, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	aliceB, bobB := e.browser(), e.browser()
	e.login(aliceB, mockUser("alice@example.com"), "/")
	e.login(bobB, mockUser("bob@ops.example.com"), "/")
	e.login(e.browser(), mockUser("carl@ops.example.com"), "/")
	alice, _ := e.whoami(aliceB, "GET", nil)
	c := e.client(alice)

	page1, err := c.ListUsers(ctx, &identityv1.ListUsersRequest{PageSize: 2})
	if err != nil || len(page1.GetUsers()) != 2 || page1.GetNextPageToken() == "" {
		t.Fatalf("ListUsers page 1 = %v, %v", page1, err)
	}
	page2, err := c.ListUsers(ctx, &identityv1.ListUsersRequest{PageSize: 2, PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetUsers()) != 1 || page2.GetNextPageToken() != "" || page2.GetUsers()[0].GetEmail() != "carl@ops.example.com" {
		t.Fatalf("ListUsers page 2 = %v, %v", page2, err)
	}
	found, _ := c.ListUsers(ctx, &identityv1.ListUsersRequest{Query: "BOB"})
	if len(found.GetUsers()) != 1 {
		t.Fatalf("ListUsers(query BOB) = %v", found.GetUsers())
	}
	bob := found.GetUsers()[0]
	if bob.GetMappedRole() != authv1.Role_ROLE_OPERATOR || bob.GetRole() != authv1.Role_ROLE_OPERATOR || bob.GetAssignedRole() != authv1.Role_ROLE_UNSPECIFIED {
		t.Fatalf("bob = %v, want operator by mapping", bob)
	}

	_, err = c.SetUserRole(ctx, &identityv1.SetUserRoleRequest{Id: bob.GetId(), Role: authv1.Role_ROLE_ADMIN, Etag: "999"})
	wantCode(t, "SetUserRole with a stale etag", err, codes.Aborted)
	set, err := c.SetUserRole(ctx, &identityv1.SetUserRoleRequest{Id: bob.GetId(), Role: authv1.Role_ROLE_VIEWER, Etag: bob.GetEtag()})
	if err != nil || set.GetUser().GetRole() != authv1.Role_ROLE_VIEWER || set.GetUser().GetEtag() == bob.GetEtag() {
		t.Fatalf("SetUserRole = %v, %v", set, err)
	}
	_, err = c.SetUserRole(ctx, &identityv1.SetUserRoleRequest{Id: bob.GetId(), Role: authv1.Role_ROLE_ADMIN, Etag: bob.GetEtag()})
	wantCode(t, "SetUserRole with the old etag", err, codes.Aborted)
	// The assignment holds at bob's next request, without a new login.
	if id, _ := e.whoami(bobB, "GET", nil); id.Role != authv1.Role_ROLE_VIEWER {
		t.Errorf("bob's role after assignment = %v, want viewer", id.Role)
	}
	evs := e.events(SubjectUserRoleChanged)
	if len(evs) != 1 || evs[0].actor != "alice@example.com" || evs[0].payload.(*identityv1.UserRoleChanged).GetUser().GetAssignedRole() != authv1.Role_ROLE_VIEWER {
		t.Fatalf("UserRoleChanged = %+v, want one by alice", evs)
	}
	// Unassigning brings the mapping back.
	if _, err := c.SetUserRole(ctx, &identityv1.SetUserRoleRequest{Id: bob.GetId()}); err != nil {
		t.Fatal(err)
	}
	if id, _ := e.whoami(bobB, "GET", nil); id.Role != authv1.Role_ROLE_OPERATOR {
		t.Errorf("bob's role after unassignment = %v, want operator", id.Role)
	}

	// A refused user is recorded, so an admin can let them in.
	mal := e.browser()
	if r := e.login(mal, mockUser("mallory@elsewhere.example"), "/"); r.status != http.StatusForbidden {
		t.Fatalf("login of a user without a role = %d", r.status)
	}
	found, _ = c.ListUsers(ctx, &identityv1.ListUsersRequest{Query: "mallory"})
	if len(found.GetUsers()) != 1 || found.GetUsers()[0].GetRole() != authv1.Role_ROLE_UNSPECIFIED {
		t.Fatalf("mallory = %v", found.GetUsers())
	}
	if _, err := c.SetUserRole(ctx, &identityv1.SetUserRoleRequest{Id: found.GetUsers()[0].GetId(), Role: authv1.Role_ROLE_VIEWER}); err != nil {
		t.Fatal(err)
	}
	if r := e.login(mal, mockUser("mallory@elsewhere.example"), "/"); r.status != http.StatusSeeOther {
		t.Fatalf("login after assignment = %d %s", r.status, r.body)
	}
}

// TestEventsReachStream: the relay publishes the outbox to JetStream with
// the actor header.
func TestEventsReachStream(t *testing.T) {
	t.Parallel()
	_, js := natsserver.NewTestJetStream(t)
	ctx := context.Background()
	stream, err := events.EnsureStream(ctx, js, config.NATS{StreamMaxAge: time.Hour, DuplicateWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{js: js})
	b := e.browser()
	e.login(b, mockUser("alice@example.com"), "/")
	if err := e.svc.DrainOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, SubjectLoggedIn)
	if err != nil {
		t.Fatal(err)
	}
	var ev identityv1.LoggedIn
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(events.HeaderActor) != "alice@example.com" || ev.GetPrincipal().GetEmail() != "alice@example.com" ||
		msg.Header.Get(events.HeaderType) != "portal.identity.v1.LoggedIn" {
		t.Fatalf("published LoggedIn: headers %v, payload %v", msg.Header, &ev)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM identity.outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox rows after drain = %d, %v; want 0", n, err)
	}

	// The relay keeps publishing while it runs.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.svc.RunRelay(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	b.do("POST", e.srv.URL+"/auth/logout", nil, map[string]string{CSRFHeader: b.cookieValue(e, CSRFCookie)})
	eventually(t, 5*time.Second, "LoggedOut published", func() error {
		msg, err := stream.GetLastMsgForSubject(ctx, SubjectLoggedOut)
		if err != nil {
			return err
		}
		if a := msg.Header.Get(events.HeaderActor); a != "alice@example.com" {
			return status.Errorf(codes.Unknown, "actor %q", a)
		}
		return nil
	})
}
