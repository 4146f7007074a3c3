package app

import (
	"context"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
)

// bootstrapPartyAdmin bootstraps a deployment with party p and returns the actor of p's first
// administrator, made by the deployment administrator as a real deployment would.
func bootstrapPartyAdmin(t testing.TB, a *App, p party.Party) audit.Actor {
	t.Helper()
	ctx := context.Background()
	root, _, err := bootstrapAdmin(ctx, a.Store, time.Now().UTC(), p, "root", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	adm, _, err := a.Governance.CreatePrincipal(ctx, governance.Actor(root), governance.CreatePrincipalRequest{PartyID: p.ID, Name: "admin", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	return governance.Actor(adm)
}

// newParty makes a party as the deployment administrator, with its first administrator
// (PARTY/admin, token registered), and returns that administrator's key.
func newParty(t *testing.T, s *devServer, id, name, kind string) string {
	t.Helper()
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": id, "name": name, "kind": kind})
	var p struct{ Token string }
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": id, "name": "admin", "admin": true}).json(t, &p)
	s.tokens[id+"/admin"] = p.Token
	return id + "/admin"
}
