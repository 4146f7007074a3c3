package sqlstore

import (
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) CustodyVouchers() store.CustodyVouchers { return custodyVouchers{t} }

type custodyVouchers struct{ t *tx }

var _ store.CustodyVouchers = custodyVouchers{}

func (c custodyVouchers) AddCustodyKey(k store.CustodyKey) error {
	_, err := c.t.exec(`INSERT INTO custody_keys (key_id, party_id, name, public_key_pem, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.KeyID, k.PartyID, k.Name, k.PublicKeyPEM, k.CreatedBy, micros(k.CreatedAt))
	return err
}

const custodyKeyCols = `key_id, party_id, name, public_key_pem, created_by, created_at`

func scanCustodyKey(s interface{ Scan(...any) error }) (store.CustodyKey, error) {
	var k store.CustodyKey
	var at int64
	err := s.Scan(&k.KeyID, &k.PartyID, &k.Name, &k.PublicKeyPEM, &k.CreatedBy, &at)
	k.CreatedAt = fromMicros(at)
	return k, err
}

func (c custodyVouchers) GetCustodyKey(keyID string) (store.CustodyKey, error) {
	k, err := scanCustodyKey(c.t.queryRow(`SELECT `+custodyKeyCols+` FROM custody_keys WHERE key_id = ?`, keyID))
	return k, notFound(err, "custody key "+keyID)
}

func (c custodyVouchers) ListCustodyKeys(partyID string) ([]store.CustodyKey, error) {
	return list(c.t, scanCustodyKey, `SELECT `+custodyKeyCols+` FROM custody_keys WHERE party_id = ? ORDER BY created_at, key_id`, partyID)
}

func (c custodyVouchers) AddVoucher(v store.VoucherRecord, deviceIDs []string, links []store.VoucherLink) error {
	if _, err := c.t.exec(`INSERT INTO custody_vouchers (id, party_id, direction, maker_id, sha256, content, devices, final_link, addressee_key_id, created_by, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, v.PartyID, v.Direction, v.MakerID, v.SHA256[:], v.Content, v.Devices, v.FinalLink, v.AddresseeKeyID, v.CreatedBy, micros(v.CreatedAt)); err != nil {
		return err
	}
	for _, id := range deviceIDs {
		if _, err := c.t.exec(`INSERT INTO custody_voucher_devices (voucher_id, device_id) VALUES (?, ?)`, v.ID, id); err != nil {
			return err
		}
	}
	for _, l := range links {
		if _, err := c.t.exec(`INSERT INTO custody_voucher_links (hash, previous, voucher_id, position, addressee_key_id) VALUES (?, ?, ?, ?, ?)`,
			l.Hash, l.Previous, v.ID, l.Position, l.AddresseeKeyID); err != nil {
			return err
		}
	}
	return nil
}

const voucherCols = `id, party_id, direction, maker_id, sha256, devices, final_link, addressee_key_id, created_by, created_at`

func scanVoucher(withContent bool) func(s interface{ Scan(...any) error }) (store.VoucherRecord, error) {
	return func(s interface{ Scan(...any) error }) (store.VoucherRecord, error) {
		var v store.VoucherRecord
		var sum []byte
		var at int64
		dest := []any{&v.ID, &v.PartyID, &v.Direction, &v.MakerID, &sum, &v.Devices, &v.FinalLink, &v.AddresseeKeyID, &v.CreatedBy, &at}
		if withContent {
			dest = append(dest, &v.Content)
		}
		err := s.Scan(dest...)
		copy(v.SHA256[:], sum)
		v.CreatedAt = fromMicros(at)
		return v, err
	}
}

func (c custodyVouchers) GetVoucher(id string) (store.VoucherRecord, error) {
	v, err := scanVoucher(true)(c.t.queryRow(`SELECT `+voucherCols+`, content FROM custody_vouchers WHERE id = ?`, id))
	return v, notFound(err, "custody voucher "+id)
}

func (c custodyVouchers) ListVouchers(partyID string) ([]store.VoucherRecord, error) {
	return list(c.t, scanVoucher(false), `SELECT `+voucherCols+` FROM custody_vouchers WHERE party_id = ? ORDER BY created_at DESC, id DESC`, partyID)
}

func scanLink(s interface{ Scan(...any) error }) (store.VoucherLink, error) {
	var l store.VoucherLink
	err := s.Scan(&l.Hash, &l.Previous, &l.VoucherID, &l.Position, &l.AddresseeKeyID)
	return l, err
}

func (c custodyVouchers) GetLink(hash string) (store.VoucherLink, error) {
	l, err := scanLink(c.t.queryRow(`SELECT hash, previous, voucher_id, position, addressee_key_id FROM custody_voucher_links WHERE hash = ?`, hash))
	return l, notFound(err, "custody voucher link "+hash)
}

func (c custodyVouchers) VouchersOfDevice(deviceID string) ([]store.VoucherRecord, error) {
	return list(c.t, scanVoucher(false), `SELECT v.id, v.party_id, v.direction, v.maker_id, v.sha256, v.devices, v.final_link, v.addressee_key_id, v.created_by, v.created_at
FROM custody_vouchers v JOIN custody_voucher_devices d ON d.voucher_id = v.id WHERE d.device_id = ? ORDER BY v.created_at DESC, v.id DESC`, deviceID)
}
