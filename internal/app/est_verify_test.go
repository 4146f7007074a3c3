package app

import (
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestESTRenewalRecordChecked: the build record's signature is checked at every renewal,
// though a renewal of a record that verified before takes the result from the service's
// memory of verified records (keyed by the envelope's bytes and the maker's key history). A
// record tampered with in the database after the enrollment and a first renewal is a new key:
// the next renewal verifies it, refuses, and changes nothing.
func TestESTRenewalRecordChecked(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	if strings.HasPrefix(s.info.Database, "postgres") {
		t.Skip("the stored build record is tampered with in SQLite only")
	}
	dir := t.TempDir()
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-tamper")
	fi := deliveredDevice(t, s, dir, lotID, "lot-tamper", "SN-T1")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-T1.factory.pem", "SN-T1.key", "t1")
	estEnroll(t, s, dir, U, "simplereenroll", "t1.pem", "t1.key", "t2") // the record is remembered as verified

	db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE build_records SET envelope = CAST(replace(CAST(envelope AS TEXT), '"sig":"M', '"sig":"N') AS BLOB) WHERE device_id = ?`, fi.Device.ID)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tampering with SN-T1's build record: %v (%d rows)", err, n)
	}
	db.Close()

	estCSR(t, dir, "t3")
	before := auditCount(t, s)
	if code, body := estStatus(t, s, dir, U+"/simplereenroll", "t2.pem", "t2.key", "t3.csr.b64"); code != 400 || !strings.Contains(body, "build record does not verify") {
		t.Fatalf("renewal with a tampered build record: %d %s", code, body)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("audit log grew %d → %d", before, after)
	}
	var d deviceView
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if len(d.Lineage) != 2 {
		t.Errorf("the refused renewal changed the device's lineage: %+v", d)
	}
}

// TestESTEnrollChainChecked: the factory chain is verified at every EST enrollment (after the
// read transaction, on the anchors it read), with the server's time, though the TLS layer only
// checked that a known CA signed it. The handshake remembers that signature
// (operational.Service.Signatures), so the chain check does not compute it again, but every
// other check still runs: at a time after the factory certificate's notAfter the
// enrollment is refused as a chain refusal and nothing changes; at the right time the same
// device enrolls.
func TestESTEnrollChainChecked(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-chain")
	deliveredDevice(t, s, dir, lotID, "lot-chain", "SN-C1")
	estCSR(t, dir, "c1")

	before := auditCount(t, s)
	skew.Store(int64(200 * 365 * 24 * time.Hour))
	code, body := estStatus(t, s, dir, U+"/simpleenroll", "SN-C1.factory.pem", "SN-C1.key", "c1.csr.b64")
	skew.Store(0)
	if code != 400 || !strings.Contains(body, "factory chain") || !strings.Contains(body, "expired") {
		t.Fatalf("enrollment after the factory certificate expired: %d %s", code, body)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("audit log grew %d → %d", before, after)
	}
	estEnroll(t, s, dir, U, "simpleenroll", "SN-C1.factory.pem", "SN-C1.key", "c1ok")
}
