package sqlstore

import (
	"database/sql"
	"errors"

	"github.com/hallmark-id/hallmark/internal/device"
)

// HeldLots probes devices_custodian_lot once per lot of the manufacturer.
func (c catalog) HeldLots(partyID, mfr string) ([]device.Lot, error) {
	return list(c.t, scanLot, `SELECT `+lotCols+` FROM lots WHERE (? = '' OR manufacturer_id = ?)
AND EXISTS (SELECT 1 FROM devices d WHERE d.custodian_id = ? AND d.lot_id = lots.id) ORDER BY manufacturer_id, name`, mfr, mfr, partyID)
}

func (c custody) OperationalDevice(id string) (string, error) {
	var devID string
	err := c.t.queryRow(`SELECT i.device_id FROM transfer_items i JOIN devices d ON d.id = i.device_id
WHERE i.transfer_id = ? AND d.state IN (?, ?, ?, ?) ORDER BY i.device_id LIMIT 1`,
		id, string(device.Active), string(device.Suspended), string(device.Quarantined), string(device.HandedOff)).Scan(&devID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return devID, err
}
