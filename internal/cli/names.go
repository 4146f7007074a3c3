package cli

import (
	"context"
	"strings"

	"github.com/hallmark-id/hallmark/api"
)

// maxNameLookups bounds the principal look-ups of one table.
const maxNameLookups = 50

// principalNames turns principal IDs into names for tables, reading each principal once
// (GET /v1/principals/{id}). A principal the caller may not see, a failed look-up, or one past
// maxNameLookups shows as its ID: a name is a courtesy, never a reason to fail. -o json keeps
// the IDs.
type principalNames struct {
	ctx context.Context
	c   interface {
		GetPrincipal(context.Context, string) (api.Principal, error)
	}
	seen map[string]string
}

func newPrincipalNames(ctx context.Context, c interface {
	GetPrincipal(context.Context, string) (api.Principal, error)
}) *principalNames {
	return &principalNames{ctx: ctx, c: c, seen: map[string]string{}}
}

// name is the principal's name, or id when it cannot be had.
func (n *principalNames) name(id string) string {
	if n == nil || id == "" || !strings.HasPrefix(id, "prn_") {
		return id
	}
	if v, ok := n.seen[id]; ok {
		return v
	}
	v := id
	if len(n.seen) < maxNameLookups {
		if p, err := n.c.GetPrincipal(n.ctx, id); err == nil && p.Name != "" {
			v = p.Name
		}
	}
	n.seen[id] = v
	return v
}
