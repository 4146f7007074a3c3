package console

import (
	"context"

	"github.com/hallmark-id/hallmark/client"
)

// names turns party and principal IDs into names, as far as the signed-in person's party may
// list them through the API; an ID it cannot name is shown as the ID.
type names struct {
	ctx        context.Context
	api        *client.Client
	parties    map[string]string
	principals map[string]string
	listed     map[string]bool // parties whose principals were asked for
	envs       map[string]string
}

func newNames(ctx context.Context, c *client.Client) *names {
	n := &names{ctx: ctx, api: c, parties: map[string]string{}, principals: map[string]string{}, listed: map[string]bool{}}
	if ps, err := c.ListParties(ctx); err == nil {
		for _, p := range ps {
			n.parties[p.ID] = p.Name
		}
	}
	return n
}

// Party is a party's name, or its ID.
func (n *names) Party(id string) string {
	if v, ok := n.parties[id]; ok && v != "" {
		return v
	}
	return id
}

// Principal is "name (party name)" for a principal of partyID; when the caller may not list
// that party's principals, "someone at party name" (a principal ID means nothing to a person),
// or the ID when the party is unknown too.
func (n *names) Principal(partyID, id string) string {
	if id == "" {
		return ""
	}
	if v, ok := n.principals[id]; ok {
		return v
	}
	if partyID != "" && !n.listed[partyID] {
		n.listed[partyID] = true
		if ps, err := n.api.ListPrincipals(n.ctx, partyID); err == nil {
			for _, p := range ps {
				n.principals[p.ID] = p.Name + " (" + n.Party(p.PartyID) + ")"
			}
		}
		if v, ok := n.principals[id]; ok {
			return v
		}
	}
	if partyID != "" {
		return "someone at " + n.Party(partyID)
	}
	return id
}

// Env is an environment's name, or its ID when the caller may not list it.
func (n *names) Env(id string) string {
	if n.envs == nil {
		n.envs = map[string]string{}
		if es, err := n.api.ListEnvironments(n.ctx); err == nil {
			for _, e := range es {
				n.envs[e.ID] = e.Name
			}
		}
	}
	if v := n.envs[id]; v != "" {
		return v
	}
	return id
}

// names is the session's name resolver, made on first use (one per request).
func (s *session) names(ctx context.Context) *names {
	if s.nm == nil {
		s.nm = newNames(ctx, s.api)
	}
	return s.nm
}
