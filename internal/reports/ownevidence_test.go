package reports_test

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestDriftReadsOwnEvidence: the drift report judges a device on its own evidence. Device A is
// issued a certificate of its own whose evidence was recorded for device B, on facts that
// drift from the build record; device C renews on the same facts, recorded as its own. C's
// drift is reported; A was not admitted on those facts, and B's current certificate is not
// that one: no item, no policy entry names A's certificate.
func TestDriftReadsOwnEvidence(t *testing.T) { onStores(t, testDriftReadsOwnEvidence) }

func testDriftReadsOwnEvidence(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := fillFleet(ctx, st, 30); err != nil {
		t.Fatal(err)
	}
	now := benchNow
	facts := json.RawMessage(`{"firmware_digest":"` + strings.Repeat("ab", 32) + `","hardware_revision":"B"}`)
	// renew issues device dev a certificate of its own, records its evidence for evidenceOf
	// and makes it dev's current certificate.
	renew := func(dev, evidenceOf string, serial int64) string {
		t.Helper()
		s := big.NewInt(serial)
		err := st.Update(ctx, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(dev)
			if err != nil {
				return err
			}
			if err := issue(tx, s, dev, "operational", now, now.Add(24*time.Hour), []byte{1}); err != nil {
				return err
			}
			if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: evidenceOf, EnvironmentID: d.EnvironmentID, Kind: "renew", BasedOn: d.OperationalCert,
				FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: facts, CreatedAt: now}); err != nil {
				return err
			}
			nd := d
			nd.OperationalCert, nd.UpdatedAt = ca.SerialHex(s), now
			if err := tx.Devices().UpdateDevice(nd, d); err != nil {
				return err
			}
			_, err = tx.Audit().Append(audit.Event{At: now, PartyID: "p", PrincipalID: "x", Action: "test"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ca.SerialHex(s)
	}
	foreign := renew("dev-0000011", "dev-0000013", 1<<40)
	own := renew("dev-0000015", "dev-0000015", 1<<40+1)

	dr, err := reports.New(st, func() time.Time { return now }).Drift(ctx, audit.Actor{PartyID: "aud", PrincipalID: "x", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	reported := false
	for _, it := range dr.Items {
		if it.Serial == foreign {
			t.Errorf("drift item %+v: %s's evidence was recorded for dev-0000013, not its own", it, foreign)
		}
		reported = reported || (it.DeviceID == "dev-0000015" && it.Serial == own && it.Field == "firmware_digest")
	}
	for _, p := range dr.Policy {
		if p.Serial == foreign {
			t.Errorf("policy drift %+v: %s's evidence was recorded for dev-0000013, not its own", p, foreign)
		}
	}
	if !reported {
		t.Errorf("dev-0000015's own drifted renewal %s is not reported: %+v", own, dr.Items)
	}
}
