package httpapi

import (
	"bytes"
	"encoding/pem"
	"fmt"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/support"
)

// toCA shows a CA with its certificate as PEM and, when parsed, its subject and expiry.
func toCA(c ca.CA) api.CA {
	v := api.CA{ID: c.ID, PartyID: c.PartyID, Stage: c.Stage, Role: string(c.Role), ParentID: c.ParentID, Name: c.Name,
		KeyID: c.KeyID, Imported: c.Imported, CreatedAt: c.CreatedAt, RetiredAt: c.RetiredAt, CRLPartitions: c.CRLPartitions, FactoryValidity: c.FactoryValidity,
		SuccessorID: c.SuccessorID, SucceededAt: c.SucceededAt, IssuesUntil: c.IssuesUntil,
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.CertDER}))}
	if c.Cert != nil {
		v.Subject, v.NotAfter = c.Cert.Subject.String(), c.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")
	}
	return v
}

func toHierarchy(root, issuing ca.CA) api.Hierarchy {
	return api.Hierarchy{Root: toCA(root), Issuing: toCA(issuing)}
}

func fromCreateHierarchyRequest(r api.CreateHierarchyRequest) manufacturing.CreateHierarchyRequest {
	return manufacturing.CreateHierarchyRequest{ManufacturerID: r.ManufacturerID, Name: r.Name, Algorithm: keys.Algorithm(r.Algorithm),
		CRLPartitions: r.CRLPartitions, FactoryValidity: r.FactoryValidity}
}

func fromImportCARequest(r api.ImportCARequest) manufacturing.ImportCARequest {
	return manufacturing.ImportCARequest{ManufacturerID: r.ManufacturerID, Name: r.Name, CertificatePEM: r.CertificatePEM,
		KeyURI: r.KeyURI, KeyPEM: r.KeyPEM, Passphrase: r.Passphrase, CRLPartitions: r.CRLPartitions}
}

func fromRegisterAnchorRequest(r api.RegisterAnchorRequest) manufacturing.RegisterAnchorRequest {
	return manufacturing.RegisterAnchorRequest{Name: r.Name, CertificatePEM: r.CertificatePEM}
}

func toModel(m device.Model) api.Model {
	return api.Model{ID: m.ID, ManufacturerID: m.ManufacturerID, Name: m.Name, HardwareType: m.HardwareType, CreatedAt: m.CreatedAt}
}

func fromCreateModelRequest(r api.CreateModelRequest) manufacturing.CreateModelRequest {
	return manufacturing.CreateModelRequest{ManufacturerID: r.ManufacturerID, Name: r.Name, HardwareType: r.HardwareType}
}

func toLot(l device.Lot) api.Lot {
	return api.Lot{ID: l.ID, ManufacturerID: l.ManufacturerID, ModelID: l.ModelID, Name: l.Name, Line: l.Line,
		IssuingCAID: l.IssuingCAID, CreatedAt: l.CreatedAt}
}

func fromCreateLotRequest(r api.CreateLotRequest) manufacturing.CreateLotRequest {
	return manufacturing.CreateLotRequest{ModelID: r.ModelID, Name: r.Name, Line: r.Line, IssuingCAID: r.IssuingCAID, DelegateTo: r.DelegateTo}
}

// fromIssueFactoryRequest decodes the build record, strictly like the body around it, and
// leaves the lot to the caller (it is in the path).
func fromIssueFactoryRequest(r api.IssueFactoryRequest) (manufacturing.IssueFactoryRequest, error) {
	var rec api.BuildRecord
	if len(r.BuildRecord) > 0 {
		if err := DecodeJSON(bytes.NewReader(r.BuildRecord), &rec); err != nil {
			return manufacturing.IssueFactoryRequest{}, err
		}
	}
	return manufacturing.IssueFactoryRequest{CSR: r.CSR, BuildRecord: fromBuildRecord(rec)}, nil
}

func fromBuildRecord(r api.BuildRecord) buildrecord.Record {
	return buildrecord.Record{Manufacturer: r.Manufacturer, Model: r.Model, HardwareRevision: r.HardwareRevision, Serial: r.Serial,
		Lot: r.Lot, Line: r.Line, Components: each(r.Components, fromComponent), FirmwareDigest: buildrecord.Digest(r.FirmwareDigest),
		TestResult: r.TestResult, BuiltAt: r.BuiltAt}
}

func fromComponent(c api.Component) buildrecord.Component {
	return buildrecord.Component{Name: c.Name, Version: c.Version, Digest: buildrecord.Digest(c.Digest)}
}

func toFactoryIdentity(f manufacturing.FactoryIdentity) api.FactoryIdentity {
	return api.FactoryIdentity{Device: toDevice(f.Device), CertificatePEM: f.CertificatePEM, ChainPEM: f.ChainPEM,
		BuildRecord: f.BuildRecord, BuildRecordSHA: f.BuildRecordSHA}
}

func toDevice(d device.Device) api.Device {
	return api.Device{ID: d.ID, ManufacturerID: d.ManufacturerID, ModelID: d.ModelID, LotID: d.LotID, Serial: d.Serial,
		State: string(d.State), CustodianID: d.CustodianID, FactoryCert: d.FactoryCert, EnvironmentID: d.EnvironmentID,
		OperationalCert: d.OperationalCert, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func fromCreateOperationalHierarchyRequest(r api.CreateOperationalHierarchyRequest) operational.CreateHierarchyRequest {
	return operational.CreateHierarchyRequest{OperatorID: r.OperatorID, Name: r.Name, Algorithm: keys.Algorithm(r.Algorithm),
		CRLPartitions: r.CRLPartitions}
}

func fromCreateSupportHierarchyRequest(r api.CreateSupportHierarchyRequest) support.CreateHierarchyRequest {
	return support.CreateHierarchyRequest{OperatorID: r.OperatorID, Name: r.Name, Algorithm: keys.Algorithm(r.Algorithm)}
}

func toSignedManifest(m manufacturing.Manifest) api.SignedManifest {
	return api.SignedManifest{ManufacturerID: m.ManufacturerID, LotIDs: m.LotIDs, Devices: m.Devices, SHA256: fmt.Sprintf("%x", m.SHA256), Envelope: m.Envelope}
}

// fromRepairRequest decodes the build record strictly, as fromIssueFactoryRequest does.
func fromRepairRequest(r api.RepairRequest) (manufacturing.RepairRequest, error) {
	f, err := fromIssueFactoryRequest(api.IssueFactoryRequest{CSR: r.CSR, BuildRecord: r.BuildRecord})
	return manufacturing.RepairRequest{CSR: f.CSR, BuildRecord: f.BuildRecord, Reason: r.Reason}, err
}

func toRepairResult(r manufacturing.RepairResult) api.RepairResult {
	return api.RepairResult{Device: toDevice(r.Device), Approval: ptr(r.Approval, toApproval)}
}
