package client

import (
	"context"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// Rotation (docs/rotation.md): CA rotation and rollover, the paths they make, and the key
// histories of build-record and audit checkpoint keys.

// RotateRequest asks to replace a CA (rotation.Request): Name is the successor's ("" names it
// <name>-<n>), Overlap how long the old CA goes on signing ("" takes the server's 1h).
type RotateRequest struct {
	Name    string `json:"name,omitempty"`
	Overlap string `json:"overlap,omitempty"`
}

// CrossCert is a rollover's cross-certificate (httpapi.CrossCertView).
type CrossCert struct {
	ca.CrossCert
	CertificatePEM string `json:"certificate_pem"`
}

// Succession is a rotation's or rollover's outcome (httpapi.SuccessionView).
type Succession struct {
	Predecessor       CAView      `json:"predecessor"`
	Successor         CAView      `json:"successor"`
	LotsMoved         int64       `json:"lots_moved"`
	EnvironmentsMoved int64       `json:"environments_moved"`
	CrossCertificates []CrossCert `json:"cross_certificates,omitempty"`
}

// RotateCA replaces issuing CA id by a successor that takes its lots and environments.
func (c *Client) RotateCA(ctx context.Context, id string, r RotateRequest) (Succession, error) {
	var out Succession
	return out, c.do(ctx, "POST", "/v1/cas/"+seg(id)+"/rotate", r, &out)
}

// RolloverCA replaces root id by a new root with cross-certificates.
func (c *Client) RolloverCA(ctx context.Context, id string, r RotateRequest) (Succession, error) {
	var out Succession
	return out, c.do(ctx, "POST", "/v1/cas/"+seg(id)+"/rollover", r, &out)
}

// CAChain returns a CA's certificate, the CAs above it and its root line's cross-certificates,
// PEM (public).
func (c *Client) CAChain(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/cas/"+seg(id)+"/chain", nil, &b)
}

// SigningKey is a build-record key (manufacturing.SigningKeyView).
type SigningKey struct {
	ca.SigningKey
	DSSEKeyID    string `json:"keyid"`
	PublicKeyPEM string `json:"public_key_pem"`
}

// RotateBuildRecordKey replaces a manufacturer's build-record key; the old one stays in the
// key history.
func (c *Client) RotateBuildRecordKey(ctx context.Context, manufacturerID string) (SigningKey, error) {
	var out SigningKey
	return out, c.do(ctx, "POST", "/v1/manufacturers/"+seg(manufacturerID)+"/build-record-key/rotate", struct{}{}, &out)
}

// BuildRecordKeys returns a manufacturer's build-record key history as a key set file: PEM
// blocks, the current key first (public).
func (c *Client) BuildRecordKeys(ctx context.Context, manufacturerID string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/manufacturers/"+seg(manufacturerID)+"/build-record-keys", nil, &b)
}

// AuditKey is a checkpoint key (store.AuditKey).
type AuditKey struct {
	KeyID       string     `json:"key_id"`
	VerifierKey string     `json:"verifier_key"`
	CreatedAt   time.Time  `json:"created_at"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

// AuditKeys returns the checkpoint key history, one note verifier key a line, the current
// first (public).
func (c *Client) AuditKeys(ctx context.Context) ([]string, error) {
	var b []byte
	if err := c.do(ctx, "GET", "/v1/audit/keys", nil, &b); err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// RotateAuditKey replaces the checkpoint key (deployment administrators).
func (c *Client) RotateAuditKey(ctx context.Context) (AuditKey, error) {
	var out AuditKey
	return out, c.do(ctx, "POST", "/v1/audit/key/rotate", struct{}{}, &out)
}

// ReportCAExpiry returns the CA expiry report.
func (c *Client) ReportCAExpiry(ctx context.Context) (reports.CAExpiryReport, error) {
	var out reports.CAExpiryReport
	err := c.do(ctx, "GET", "/v1/reports/ca-expiry", nil, &out)
	if out.Items == nil {
		out.Items = []reports.CAExpiry{}
	}
	return out, err
}
