package sqlstore

import (
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Refusal events (migration 0017_refusals.sql): audit events of action "refusal", read
// through partial indexes over that action.

func (t *tx) Refusals() store.Refusals { return refusalReads{t} }

type refusalReads struct{ t *tx }

var _ store.Refusals = refusalReads{}

func (r refusalReads) ListRefusals(f store.RefusalFilter) ([]audit.Event, error) {
	where, args := []string{"action = ?"}, []any{store.RefusalAction}
	if f.PartyID != "" {
		where, args = append(where, "party_id = ?"), append(args, f.PartyID)
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixMicro())
	}
	return list(r.t, func(s interface{ Scan(...any) error }) (audit.Event, error) {
		var e audit.Event
		var at int64
		var detail string
		err := s.Scan(&e.Seq, &at, &e.PartyID, &e.PrincipalID, &e.Action, &e.Stage, &e.Scope, &e.Subject, &detail)
		e.At = fromMicros(at)
		if detail != "" {
			e.Detail = []byte(detail)
		}
		return e, err
	}, fmt.Sprintf(`SELECT seq, at, party_id, principal_id, action, stage, scope, subject, detail FROM audit_events WHERE %s ORDER BY seq DESC LIMIT %d`,
		strings.Join(where, " AND "), pageLimit(f.Limit)), args...)
}
