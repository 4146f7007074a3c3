package httpapi

import (
	"encoding/hex"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
)

func toCustodyKey(k custodyvouchers.Key) api.CustodyKey {
	return api.CustodyKey{KeyID: k.KeyID, PartyID: k.PartyID, Name: k.Name, PublicKeyPEM: k.PublicKeyPEM, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt}
}

func toCustodyVoucher(v custodyvouchers.Record) api.CustodyVoucher {
	return api.CustodyVoucher{ID: v.ID, PartyID: v.PartyID, Direction: v.Direction, MakerID: v.MakerID, SHA256: hex.EncodeToString(v.SHA256[:]), Devices: v.Devices,
		FinalLink: v.FinalLink, AddresseeKeyID: v.AddresseeKeyID, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt, File: string(v.Content)}
}

func fromExportVoucherRequest(r api.ExportVoucherRequest) custodyvouchers.ExportRequest {
	return custodyvouchers.ExportRequest{DeviceIDs: r.DeviceIDs, To: r.To, ToKeyPEM: r.ToKeyPEM, TTL: time.Duration(r.TTL)}
}

func toImportedVoucher(v custodyvouchers.Imported) api.ImportedVoucher {
	return api.ImportedVoucher{Voucher: toCustodyVoucher(v.Record), MakerID: v.Maker.ID, MakerName: v.Maker.Name, DeviceIDs: nonNil(v.DeviceIDs)}
}
