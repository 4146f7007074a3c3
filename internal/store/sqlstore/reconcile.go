package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) StateRows() store.StateRows { return stateRows{t} }

type stateRows struct{ t *tx }

var _ store.StateRows = stateRows{}

func (r stateRows) CertStates(after string, limit int) ([]store.CertStateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(r.t, func(s interface{ Scan(...any) error }) (store.CertStateRow, error) {
		var v store.CertStateRow
		var dev sql.NullString
		var state string
		var reason sql.NullInt64
		err := s.Scan(&v.SerialHex, &v.CAID, &dev, &v.Profile, &state, &reason)
		v.DeviceID, v.State = dev.String, ca.CertState(state)
		if reason.Valid {
			n := int(reason.Int64)
			v.Reason = &n
		}
		return v, err
	}, fmt.Sprintf(`SELECT serial, ca_id, device_id, profile, state, reason FROM certificates WHERE serial > ? ORDER BY serial LIMIT %d`, limit), after)
}
