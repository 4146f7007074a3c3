package signin_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/signin"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

const redirect = "http://127.0.0.1:7/callback"

type fixture struct {
	st          store.Store
	gov         *governance.Service
	opA, opB    *testOP
	acmeAdmin   audit.Actor
	boot        audit.Actor // a deployment administrator (party "*")
	alice       party.Principal
	globexAdmin audit.Actor
	secrets     map[string]string
	now         time.Time
	ctx         context.Context
	svc         *signin.Service
}

// setup: parties acme (provider opA, client "hallmark") and globex (provider opB), each with
// an admin; alice of acme bound to alice@acme.example.
func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, gov: governance.New(governance.Config{Store: st}), ctx: ctx, secrets: map[string]string{"ACME_OIDC_SECRET": "hallmark-secret", "GLOBEX_OIDC_SECRET": "hallmark-secret"}}
	f.opA, f.opB = startOP(t, redirect), startOP(t, redirect)
	boot := audit.Actor{PartyID: party.Deployment, PrincipalID: "bootstrap", Admin: true}
	f.boot = boot
	for _, p := range []struct {
		id   string
		kind party.Kind
	}{{"acme", party.Manufacturer}, {"globex", party.SupportVendor}} {
		if _, err := f.gov.CreateParty(ctx, boot, governance.CreatePartyRequest{ID: p.id, Name: p.id + " Inc", Kind: p.kind}); err != nil {
			t.Fatal(err)
		}
	}
	// The deployment administrator makes each party's first administrator, who makes the rest.
	mk := func(by audit.Actor, partyID, name string, admin bool) party.Principal {
		p, _, err := f.gov.CreatePrincipal(ctx, by, governance.CreatePrincipalRequest{PartyID: partyID, Name: name, Kind: party.Person, Admin: admin})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.acmeAdmin = governance.Actor(mk(boot, "acme", "root", true))
	f.globexAdmin = governance.Actor(mk(boot, "globex", "root", true))
	f.alice = mk(f.acmeAdmin, "acme", "alice", false)
	f.svc = f.service(nil)
	if _, err := f.svc.SetProvider(ctx, f.acmeAdmin, signin.ProviderRequest{PartyID: "acme", Issuer: f.opA.Issuer, ClientID: "hallmark", ClientSecretEnv: "ACME_OIDC_SECRET", Claim: "sub"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetProvider(ctx, f.globexAdmin, signin.ProviderRequest{PartyID: "globex", Issuer: f.opB.Issuer, ClientID: "hallmark", ClientSecretEnv: "GLOBEX_OIDC_SECRET"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Bind(ctx, f.acmeAdmin, "acme", "id-alice", f.alice.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

// service builds a Service whose clock is now() shifted by the returned offset pointer.
func (f *fixture) service(now func() time.Time) *signin.Service {
	return signin.New(signin.Config{Store: f.st, Now: now, Getenv: func(k string) string { return f.secrets[k] }})
}

func (f *fixture) login(t *testing.T, partyID, user string) (signin.Started, string) {
	t.Helper()
	s, err := f.svc.Start(f.ctx, signin.StartRequest{PartyID: partyID, RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	back := browse(t, s.AuthorizationURL, redirect, user)
	if back.Get("state") != s.State {
		t.Fatalf("state came back as %q, want %q", back.Get("state"), s.State)
	}
	return s, back.Get("code")
}

func wantKind(t *testing.T, err error, k failure.Kind, what string) {
	t.Helper()
	if !failure.Is(err, k) {
		t.Fatalf("%s: got %v (kind %v), want kind %v", what, err, failure.KindOf(err), k)
	}
}

func TestSigninCodeFlowWithPKCE(t *testing.T) {
	f := setup(t)
	s, code := f.login(t, "acme", "alice")
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "nonce=", "state="} {
		if !contains(s.AuthorizationURL, want) {
			t.Errorf("authorization URL lacks %s: %s", want, s.AuthorizationURL)
		}
	}
	got, err := f.svc.Finish(f.ctx, signin.FinishRequest{State: s.State, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	if got.Session.PrincipalID != f.alice.ID || got.Session.PartyID != "acme" || got.Session.Method != "oidc" {
		t.Fatalf("session %+v", got.Session)
	}
	if d := got.Session.ExpiresAt.Sub(got.Session.CreatedAt); d != signin.DefaultSessionTTL {
		t.Errorf("session lasts %s, want %s", d, signin.DefaultSessionTTL)
	}
	p, _, err := f.svc.Authenticate(f.ctx, got.Token)
	if err != nil || p.ID != f.alice.ID {
		t.Fatalf("authenticate: %v %+v", err, p)
	}
	// Replayed state (with the same code): refused, and no second session.
	_, err = f.svc.Finish(f.ctx, signin.FinishRequest{State: s.State, Code: code})
	wantKind(t, err, failure.Unauthenticated, "replayed state")
	// Revocation: by a stranger it does not exist; by alice it ends the session.
	_, err = f.svc.Revoke(f.ctx, f.globexAdmin, got.Session.ID)
	wantKind(t, err, failure.NotFound, "revoke by another party's admin")
	if _, err := f.svc.Revoke(f.ctx, governance.Actor(p), got.Session.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, got.Token)
	wantKind(t, err, failure.Unauthenticated, "revoked session")
}

func TestSigninRefusals(t *testing.T) {
	f := setup(t)
	// An ID token from another party's provider (wrong issuer).
	fromB := f.opB.idToken(t, "hallmark", "hallmark-secret", redirect, "alice", "n1")
	_, err := f.svc.VerifyIDToken(f.ctx, "acme", fromB, "n1")
	wantKind(t, err, failure.Unauthenticated, "token from globex's provider")
	if !contains(err.Error(), "not issued by party acme's provider") {
		t.Errorf("wrong issuer: unclear problem %q", err)
	}
	// Wrong audience: a token of acme's provider for another client.
	other := f.opA.idToken(t, "other", "other-secret", redirect, "alice", "n2")
	_, err = f.svc.VerifyIDToken(f.ctx, "acme", other, "n2")
	wantKind(t, err, failure.Unauthenticated, "wrong audience")
	if !contains(err.Error(), "wrong audience") {
		t.Errorf("wrong audience: unclear problem %q", err)
	}
	// The right token, the wrong nonce (replayed from another sign-in).
	good := f.opA.idToken(t, "hallmark", "hallmark-secret", redirect, "alice", "n3")
	if v, err := f.svc.VerifyIDToken(f.ctx, "acme", good, "n3"); err != nil || v != "id-alice" {
		t.Fatalf("the good token: %q %v", v, err)
	}
	_, err = f.svc.VerifyIDToken(f.ctx, "acme", good, "another-nonce")
	wantKind(t, err, failure.Unauthenticated, "replayed nonce")
	// Expired: the same token two hours later (the provider's tokens last one hour).
	later := f.service(func() time.Time { return time.Now().Add(2 * time.Hour) })
	_, err = later.VerifyIDToken(f.ctx, "acme", good, "n3")
	wantKind(t, err, failure.Unauthenticated, "expired ID token")
	if !contains(err.Error(), "expired") {
		t.Errorf("expired: unclear problem %q", err)
	}
	// Malformed ID token.
	_, err = f.svc.VerifyIDToken(f.ctx, "acme", "not.a.jwt", "n3")
	wantKind(t, err, failure.Unauthenticated, "malformed ID token")
	// A code from globex's provider handed to an acme sign-in: acme's provider refuses it.
	s, _ := f.login(t, "acme", "alice")
	_, codeB := f.login(t, "globex", "alice")
	_, err = f.svc.Finish(f.ctx, signin.FinishRequest{State: s.State, Code: codeB})
	wantKind(t, err, failure.Unauthenticated, "code of another party's provider")
	// Unknown state; an unbound person; a party without a provider.
	_, err = f.svc.Finish(f.ctx, signin.FinishRequest{State: "made-up", Code: "x"})
	wantKind(t, err, failure.Unauthenticated, "unknown state")
	s2, code2 := f.login(t, "acme", "mallory")
	_, err = f.svc.Finish(f.ctx, signin.FinishRequest{State: s2.State, Code: code2})
	wantKind(t, err, failure.Denied, "unbound person")
	_, err = f.svc.Start(f.ctx, signin.StartRequest{PartyID: "nobody", RedirectURI: redirect})
	wantKind(t, err, failure.NotFound, "unknown party")
	// A redirect URI that is neither loopback nor registered.
	_, err = f.svc.Start(f.ctx, signin.StartRequest{PartyID: "acme", RedirectURI: "https://evil.example/cb"})
	wantKind(t, err, failure.Invalid, "foreign redirect URI")
	// An expired flow: started, then finished after the flow TTL.
	s3, code3 := f.login(t, "acme", "alice")
	late := f.service(func() time.Time { return time.Now().Add(signin.DefaultFlowTTL + time.Minute) })
	_, err = late.Finish(f.ctx, signin.FinishRequest{State: s3.State, Code: code3})
	wantKind(t, err, failure.Unauthenticated, "expired flow")
}

func TestSigninOnlyThePartysAdminsBind(t *testing.T) {
	f := setup(t)
	_, err := f.svc.Bind(f.ctx, f.globexAdmin, "acme", "mallory@acme.example", f.alice.ID)
	wantKind(t, err, failure.Denied, "another party's admin binds")
	_, err = f.svc.Bind(f.ctx, governance.Actor(f.alice), "acme", "mallory@acme.example", f.alice.ID)
	wantKind(t, err, failure.Denied, "a non-admin of the party binds")
	_, err = f.svc.Bind(f.ctx, f.globexAdmin, "globex", "x@globex.example", f.alice.ID)
	wantKind(t, err, failure.Invalid, "binding another party's principal")
	_, err = f.svc.SetProvider(f.ctx, f.globexAdmin, signin.ProviderRequest{PartyID: "acme", Issuer: f.opB.Issuer, ClientID: "x"})
	wantKind(t, err, failure.Denied, "another party's admin replaces the provider")
	// A deployment administrator belongs to no party: it neither registers a party's provider
	// nor binds, unbinds or lists a party's identities.
	_, err = f.svc.SetProvider(f.ctx, f.boot, signin.ProviderRequest{PartyID: "acme", Issuer: f.opB.Issuer, ClientID: "x"})
	wantKind(t, err, failure.Denied, "the deployment administrator replaces acme's provider")
	_, err = f.svc.Bind(f.ctx, f.boot, "acme", "mallory@acme.example", f.alice.ID)
	wantKind(t, err, failure.Denied, "the deployment administrator binds")
	err = f.svc.Unbind(f.ctx, f.boot, "acme", "id-alice")
	wantKind(t, err, failure.Denied, "the deployment administrator unbinds")
	_, err = f.svc.Bindings(f.ctx, f.boot, "acme")
	wantKind(t, err, failure.Denied, "the deployment administrator lists bindings")
	_, err = f.svc.Provider(f.ctx, f.globexAdmin, "acme")
	wantKind(t, err, failure.NotFound, "another party's admin reads the provider")
	_, err = f.svc.SetProvider(f.ctx, f.acmeAdmin, signin.ProviderRequest{PartyID: "acme", Issuer: "http://idp.example.com", ClientID: "x"})
	wantKind(t, err, failure.Invalid, "plain http issuer off loopback")
	bs, err := f.svc.Bindings(f.ctx, f.acmeAdmin, "acme")
	if err != nil || len(bs) != 1 || bs[0].PrincipalID != f.alice.ID {
		t.Fatalf("bindings after refusals: %v %+v", err, bs)
	}
}

func TestSigninSessionExpiresAndIsBoundedInSize(t *testing.T) {
	f := setup(t)
	s, code := f.login(t, "acme", "alice")
	got, err := f.svc.Finish(f.ctx, signin.FinishRequest{State: s.State, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	later := f.service(func() time.Time { return time.Now().Add(signin.DefaultSessionTTL + time.Second) })
	_, _, err = later.Authenticate(f.ctx, got.Token)
	wantKind(t, err, failure.Unauthenticated, "expired session")
	_, _, err = f.svc.Authenticate(f.ctx, got.Token+string(make([]byte, signin.MaxTokenLen)))
	wantKind(t, err, failure.Unauthenticated, "oversized session token")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestSigninSessionsOfDisabledAndDeletedPrincipals: disabling a principal stops its sessions
// at their next request and refuses it new ones; enabling it lets them work again; deleting it
// ends them for good.
func TestSigninSessionsOfDisabledAndDeletedPrincipals(t *testing.T) {
	f := setup(t)
	signIn := func() (signin.Issued, error) {
		s, code := f.login(t, "acme", "alice")
		return f.svc.Finish(f.ctx, signin.FinishRequest{State: s.State, Code: code})
	}
	got, err := signIn()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.gov.SetDisabled(f.ctx, f.acmeAdmin, f.alice.ID, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, got.Token)
	wantKind(t, err, failure.Unauthenticated, "a disabled principal's session")
	_, err = signIn()
	wantKind(t, err, failure.Denied, "a disabled principal signs in")
	if _, err := f.gov.SetDisabled(f.ctx, f.acmeAdmin, f.alice.ID, false); err != nil {
		t.Fatal(err)
	}
	if p, _, err := f.svc.Authenticate(f.ctx, got.Token); err != nil || p.ID != f.alice.ID {
		t.Fatalf("the session once its principal is enabled again: %+v %v", p, err)
	}
	if err := f.gov.DeletePrincipal(f.ctx, f.acmeAdmin, f.alice.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Authenticate(f.ctx, got.Token)
	wantKind(t, err, failure.Unauthenticated, "a deleted principal's session")
	_, err = signIn()
	wantKind(t, err, failure.Denied, "a deleted principal signs in (its binding went with it)")
}
