package manufacturing

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// BuildRecordPurpose names the signing key a manufacturer signs build records with.
const BuildRecordPurpose = "build-record"

// IssueFactoryRequest registers one device of a lot and issues its factory identity.
type IssueFactoryRequest struct {
	LotID string `json:"lot_id"`
	// CSR is the device's PKCS#10 request, PEM or base64 DER.
	CSR string `json:"csr"`
	// BuildRecord is what the factory asserts; its manufacturer, model and lot must name this
	// lot, and its serial becomes the device serial.
	BuildRecord buildrecord.Record `json:"build_record"`
}

// FactoryIdentity is a device with its factory certificate and signed build record.
type FactoryIdentity struct {
	Device         device.Device `json:"device"`
	CertificatePEM string        `json:"certificate_pem"`
	ChainPEM       string        `json:"chain_pem"` // issuing CA then root
	BuildRecord    []byte        `json:"build_record"`
	BuildRecordSHA string        `json:"build_record_sha256"`
}

// IssueFactory verifies the CSR and build record, signs the build record with the
// manufacturer's key, and issues an IDevID certificate bound to it by digest. The device,
// certificate, build record and audit event commit together.
func (s *Service) IssueFactory(ctx context.Context, a audit.Actor, r IssueFactoryRequest) (FactoryIdentity, error) {
	rec := r.BuildRecord
	var (
		lot    device.Lot
		model  device.Model
		mfr    party.Party
		issuer ca.CA
		brKey  ca.SigningKey // the manufacturer's current build-record key; KeyID "" if none yet
	)
	// Through the store's cache when it has one (governance.ViewCacheFirst): the lot, the
	// ownership cells, the principal's duties and the SoD rules, the model, the party, the CA
	// and the build-record key are read from it, and when it holds them all no read
	// transaction is opened. The serial check is not here but in the reservation's
	// transaction (serialFree): it reads the database, and a duplicate is still refused
	// before the CA signs anything.
	err := governance.ViewCacheFirst(ctx, s.c.Store, func(tx store.Tx) error {
		var err error
		if lot, err = tx.Catalog().GetLot(r.LotID); err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, governance.LotChain(lot)); err != nil {
			return err
		}
		if model, err = tx.Catalog().GetModel(lot.ModelID); err != nil {
			return err
		}
		if mfr, err = tx.Parties().GetParty(lot.ManufacturerID); err != nil {
			return err
		}
		if issuer, err = tx.CAs().GetCA(lot.IssuingCAID); err != nil {
			return err
		}
		// Read here rather than in a read transaction of its own. Through the cache, a rotation
		// by this replica takes effect from its next request, and by another replica within
		// the cache's staleness bound (a key ID names one key for ever, so a cached ID never
		// signs with another key).
		if brKey, err = tx.CAs().SigningKey(mfr.ID, BuildRecordPurpose); err != nil && !failure.Is(err, failure.NotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return FactoryIdentity{}, err
	}
	// Input is examined only once the caller is known to own issuance in this lot.
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return FactoryIdentity{}, err
	}
	if err := checkRecord(rec, mfr, model, lot); err != nil {
		return FactoryIdentity{}, err
	}
	var signer crypto.Signer
	if brKey.KeyID != "" {
		signer, err = s.brSigner(ctx, brKey.KeyID)
	} else {
		// The manufacturer's first issuance creates its key (audited): a taken serial is
		// refused before that, so that the refusal changes nothing. Later issuances leave the
		// check to the reservation.
		if err := s.c.Store.View(ctx, func(tx store.Tx) error { return serialFree(tx, mfr.ID, rec.Serial) }); err != nil {
			return FactoryIdentity{}, err
		}
		signer, err = s.buildRecordSigner(ctx, a, mfr.ID)
	}
	if err != nil {
		return FactoryIdentity{}, err
	}
	envJSON, digest, err := signRecord(ctx, &rec, req.PublicKey, signer)
	if err != nil {
		return FactoryIdentity{}, err
	}
	hwType, err := parseOID(model.HardwareType)
	if err != nil {
		return FactoryIdentity{}, err
	}
	now := s.now()
	d := device.Device{ID: party.NewID("dev"), ManufacturerID: mfr.ID, ModelID: model.ID, LotID: lot.ID, Serial: rec.Serial,
		State: device.Registered, CustodianID: a.PartyID, CreatedAt: now, UpdatedAt: now}
	var ocspURLs, crlURLs []string
	masaURL := ""
	if s.c.MASAURL != nil {
		masaURL = s.c.MASAURL()
	}
	if s.c.StatusURLs != nil {
		ocspURLs, crlURLs = s.c.StatusURLs(issuer, d.ID)
	}
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{
		DeviceSerial: rec.Serial, Organization: mfr.Name, HardwareType: hwType, BuildRecordDigest: digest,
		PublicKey: req.PublicKey, NotBefore: now.Add(-5 * time.Minute), NotAfter: factoryNotAfter(issuer),
		OCSPServer: ocspURLs, CRLDistributionPoints: crlURLs, MASAURL: masaURL,
	})
	if err != nil {
		return FactoryIdentity{}, err
	}
	cert, err := s.c.Authority.IssueChecked(ctx, issuer, issuance.ProfileFactory, tmpl, d.ID, func(tx store.Tx) error {
		return serialFree(tx, mfr.ID, rec.Serial)
	}, func(tx store.Tx, cert *x509.Certificate) error {
		d.FactoryCert = ca.SerialHex(cert.SerialNumber)
		if err := tx.Devices().CreateDevice(d); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "manufacturer %s already has a device with serial %q", mfr.ID, rec.Serial)
			}
			return err
		}
		if err := tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: party.NewID("br"), DeviceID: d.ID, PayloadSHA256: digest[:], Envelope: envJSON, CreatedAt: now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "factory.issue", "lot:"+lot.ID, "device:"+d.ID, map[string]any{
			"serial": d.Serial, "certificate": d.FactoryCert, "ca": issuer.ID, "build_record_sha256": fmt.Sprintf("%x", digest),
		}))
		return err
	})
	if err != nil {
		return FactoryIdentity{}, err
	}
	return FactoryIdentity{Device: d, CertificatePEM: pemCert(cert.Raw), ChainPEM: s.c.Authority.ChainPEM(ctx, issuer), BuildRecord: envJSON, BuildRecordSHA: fmt.Sprintf("%x", digest)}, nil
}

// serialFree refuses (failure.Conflict) a serial the manufacturer already gave a device. It
// runs where the serial is reserved, so a duplicate leaves nothing reserved and is never
// signed; the devices table's unique index refuses a duplicate stored since, in the final
// transaction.
func serialFree(tx store.Tx, mfrID, serial string) error {
	if _, err := tx.Devices().DeviceBySerial(mfrID, serial); err == nil {
		return failure.New(failure.Conflict, "manufacturer %s already has a device with serial %q", mfrID, serial)
	} else if !failure.Is(err, failure.NotFound) {
		return fmt.Errorf("checking serial %q: %w", serial, err)
	}
	return nil
}

// checkRecord checks a build record and that it names the lot's manufacturer, model, lot and
// line, and a device that passed its tests.
func checkRecord(rec buildrecord.Record, mfr party.Party, model device.Model, lot device.Lot) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	for _, m := range []struct{ field, got, want string }{
		{"manufacturer", rec.Manufacturer, mfr.ID},
		{"model", rec.Model, model.Name},
		{"lot", rec.Lot, lot.Name},
		{"line", rec.Line, lot.Line},
	} {
		if m.got != m.want {
			return failure.New(failure.Invalid, "build record: %s is %q but lot %s says %q", m.field, m.got, lot.ID, m.want)
		}
	}
	if rec.TestResult != "pass" {
		return failure.New(failure.Invalid, "build record: testResult is %q; only devices that passed get a factory identity", rec.TestResult)
	}
	return nil
}

// signRecord signs a build record for the device key pub, and returns its DSSE envelope as
// stored and the digest the factory certificate carries.
func signRecord(ctx context.Context, rec *buildrecord.Record, pub crypto.PublicKey, signer crypto.Signer) ([]byte, [32]byte, error) {
	env, digest, err := buildrecord.Sign(ctx, rec, pub, signer)
	if err != nil {
		return nil, digest, fmt.Errorf("signing the build record: %w", err)
	}
	envJSON, err := json.Marshal(env)
	return envJSON, digest, err
}

// brSigner returns the signer of build-record key keyID, from brSigners or the key provider.
func (s *Service) brSigner(ctx context.Context, keyID string) (crypto.Signer, error) {
	if v, ok := s.brSigners.Load(keyID); ok {
		return v.(crypto.Signer), nil
	}
	signer, err := s.c.Keys.Signer(ctx, keyID)
	if err != nil {
		return nil, fmt.Errorf("loading build-record key %s: %w", keyID, err)
	}
	s.brSigners.Store(keyID, signer)
	return signer, nil
}

// buildRecordSigner returns the manufacturer's build-record key, creating it on first use.
// IssueFactory calls it only when its own read found no key: once a manufacturer has one,
// issuance neither takes keysMu nor opens a read transaction for it.
func (s *Service) buildRecordSigner(ctx context.Context, a audit.Actor, mfrID string) (crypto.Signer, error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	var k ca.SigningKey
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { k, err = tx.CAs().SigningKey(mfrID, BuildRecordPurpose); return err })
	if err == nil {
		return s.c.Keys.Signer(ctx, k.KeyID)
	}
	if !failure.Is(err, failure.NotFound) {
		return nil, err
	}
	k = ca.SigningKey{ID: party.NewID("sk"), PartyID: mfrID, Purpose: BuildRecordPurpose, CreatedAt: s.now()}
	k.KeyID = "brk-" + k.ID[3:]
	signer, err := s.c.Keys.Create(ctx, k.KeyID, keys.Algorithm("ecdsa-p256"))
	if err != nil {
		return nil, fmt.Errorf("creating the build-record key: %w", err)
	}
	if k.PublicKeyDER, err = x509.MarshalPKIXPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateSigningKey(k); err != nil {
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "signing-key.create", "manufacturer:"+mfrID, "signing-key:"+k.ID, map[string]any{"purpose": k.Purpose, "public_key_sha256": fmt.Sprintf("%x", sha256.Sum256(k.PublicKeyDER))}))
		return err
	})
	return signer, err
}

// BuildRecordKeyPEM returns a manufacturer's build-record verification key; it is public.
func (s *Service) BuildRecordKeyPEM(ctx context.Context, mfrID string) (string, error) {
	var k ca.SigningKey
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { k, err = tx.CAs().SigningKey(mfrID, BuildRecordPurpose); return err })
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicKeyDER})), nil
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
