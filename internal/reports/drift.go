package reports

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Drift is one difference between what a device reported at its newest issuance and its
// signed build record.
type Drift struct {
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id,omitempty"`
	Field         string    `json:"field"` // firmware_digest, hardware_revision or build_record
	Recorded      string    `json:"recorded"`
	Reported      string    `json:"reported"`
	ReportedAt    time.Time `json:"reported_at"`
	Serial        string    `json:"serial"` // the operational certificate issued on these facts
}

// DriftReport lists drift. Re-evaluating each environment's current onboarding or renewal
// policy against the stored inputs is not done yet (PolicyChecked is false).
type DriftReport struct {
	GeneratedAt   time.Time `json:"generated_at"`
	Checked       int       `json:"checked"` // devices with reported facts and a build record
	PolicyChecked bool      `json:"policy_checked"`
	Items         []Drift   `json:"items"`
}

// Drift compares each device's newest reported facts with its verified build record.
func (s *Service) Drift(ctx context.Context, a audit.Actor) (DriftReport, error) {
	out := DriftReport{GeneratedAt: s.now(), Items: []Drift{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		snap, err := s.snapshot(tx, a, true)
		if err != nil {
			return err
		}
		out.Items, out.Checked, err = drift(tx, snap)
		return err
	})
	return out, err
}

func drift(tx store.Tx, snap snapshot) ([]Drift, int, error) {
	items := []Drift{}
	checked := 0
	for _, dd := range snap.devices {
		if dd.latest == nil {
			continue
		}
		facts, ok := factsOf(dd.latest.Facts)
		if !ok {
			continue
		}
		base := Drift{DeviceID: dd.ID, EnvironmentID: dd.latest.EnvironmentID, ReportedAt: dd.latest.CreatedAt, Serial: dd.latest.Serial}
		rec, err := verifiedRecord(tx, dd.ID, dd.ManufacturerID)
		if failure.Is(err, failure.NotFound) {
			continue
		}
		checked++
		if err != nil {
			d := base
			d.Field, d.Reported = "build_record", err.Error()
			items = append(items, d)
			continue
		}
		if facts.FirmwareDigest != "" && facts.FirmwareDigest != rec.FirmwareDigest.SHA256 {
			d := base
			d.Field, d.Recorded, d.Reported = "firmware_digest", rec.FirmwareDigest.SHA256, facts.FirmwareDigest
			items = append(items, d)
		}
		if facts.HardwareRevision != "" && facts.HardwareRevision != rec.HardwareRevision {
			d := base
			d.Field, d.Recorded, d.Reported = "hardware_revision", rec.HardwareRevision, facts.HardwareRevision
			items = append(items, d)
		}
	}
	return items, checked, nil
}

// verifiedRecord returns a device's latest build record after checking the manufacturer's
// signature; failure.NotFound when the device has none.
func verifiedRecord(tx store.Tx, deviceID, manufacturerID string) (*buildrecord.Record, error) {
	br, err := tx.BuildRecords().LatestBuildRecord(deviceID)
	if err != nil {
		return nil, err
	}
	key, err := tx.CAs().SigningKey(manufacturerID, "build-record")
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the manufacturer's build-record key")
	}
	pub, err := x509.ParsePKIXPublicKey(key.PublicKeyDER)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the manufacturer's build-record key")
	}
	env, err := buildrecord.ParseEnvelope(br.Envelope)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not parse")
	}
	v, err := buildrecord.Verify(env, pub)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not verify")
	}
	return v.Record, nil
}
