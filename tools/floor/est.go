package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/issuance"
)

// EST enrollment and renewal (RFC 7030 simpleenroll and simplereenroll) over mutual TLS,
// doing what Hallmark's guarantees require of them and nothing else:
//
//   - the TLS client certificate is signed by the factory CA (enrollment) or the operational
//     CA (renewal), checked in the handshake by Hallmark's own filter (est.TLSConfig with an
//     est.IssuerSet: the signature and the CA flag), and is within its validity period;
//   - it is the certificate stored for its serial, issued, and the device's factory
//     certificate (enrollment) or current operational certificate (renewal): one read;
//   - on enrollment, the device's stored build record is verified (its DSSE signature, and its
//     binding to the factory certificate's key and digest): the origin proof onboarding
//     exchanges for operational trust;
//   - the CSR's proof of possession, the operational template, zlint before signing, the
//     record of intent, the signature compared and verified, and a completion that marks the
//     certificate issued, makes it the device's current one (superseding the previous one on
//     renewal) and appends the audit event, group-committed as for factory issuance;
//   - the answer is a PKCS#7 certs-only, base64 (est.CertsOnly).
//
// Left out, as for factory issuance: custody and environments, policy, decisions and evidence,
// labels, metrics and background work.

// maxESTBody bounds a PKCS#10 request, as Hallmark's est.MaxBody does.
const maxESTBody = est.MaxBody

// operationalLifetime is the operational certificate's validity (Hallmark's default for an
// environment is a day).
const operationalLifetime = 24 * time.Hour

// tlsConfig is Hallmark's EST listener configuration (est.TLSConfig): a client certificate is
// requested, and one that the factory or operational CA did not sign fails the handshake.
func (s *server) tlsConfig(certs []tls.Certificate) *tls.Config {
	return est.TLSConfig(certs, est.NewIssuerSet([]*x509.Certificate{s.caCert, s.opCert}))
}

func (s *server) est(w http.ResponseWriter, r *http.Request, renew bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "present a client certificate issued by this CA", http.StatusUnauthorized)
		return
	}
	// The handshake checked that one of the two CAs signed it; the CAs' names differ.
	peer := r.TLS.PeerCertificates[0]
	want := s.caCert
	if renew {
		want = s.opCert
	}
	if !bytes.Equal(peer.RawIssuer, want.RawSubject) {
		http.Error(w, "the client certificate is not from the expected CA", http.StatusForbidden)
		return
	}
	if now := time.Now(); now.Before(peer.NotBefore) || now.After(peer.NotAfter) {
		http.Error(w, "the client certificate is not valid now", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxESTBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil)))
	if err != nil {
		http.Error(w, "the body is not base64", http.StatusBadRequest)
		return
	}
	cert, err := s.enroll(r.Context(), peer, der, renew)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/pkcs7-mime; smime-type=certs-only")
	w.Header().Set("Content-Transfer-Encoding", "base64")
	_, _ = io.WriteString(w, base64.StdEncoding.EncodeToString(est.CertsOnly([]*x509.Certificate{cert})))
}

// enroll issues the device presenting peer an operational certificate for the CSR der.
func (s *server) enroll(ctx context.Context, peer *x509.Certificate, der []byte, renew bool) (*x509.Certificate, error) {
	peerSerial := ca.SerialHex(peer.SerialNumber)
	var devID, current string
	var factorySHA []byte
	factorySerial := peerSerial
	if renew {
		err := s.readers.QueryRowContext(ctx, qRenewal, peerSerial, peer.Raw).Scan(&devID, &factorySerial, &factorySHA)
		if err != nil {
			return nil, notCurrent(err)
		}
		current = peerSerial
	} else {
		var payloadSHA, envelope []byte
		err := s.readers.QueryRowContext(ctx, qOnboard, peerSerial, peer.Raw).Scan(&devID, &factorySHA, &current, &payloadSHA, &envelope)
		if err != nil {
			return nil, notCurrent(err)
		}
		env, err := buildrecord.ParseEnvelope(envelope)
		if err != nil {
			return nil, err
		}
		v, err := buildrecord.Verify(env, s.brPub)
		if err != nil {
			return nil, err
		}
		if err := buildrecord.CheckBinding(v, peer.PublicKey, [32]byte(payloadSHA)); err != nil {
			return nil, err
		}
	}
	cr, err := csr.Parse(der)
	if err != nil {
		return nil, err
	}
	fSerial, ok := new(big.Int).SetString(factorySerial, 16)
	if !ok || len(factorySHA) != 32 {
		return nil, fmt.Errorf("device %s: stored factory reference does not parse", devID)
	}
	spiffe, err := url.Parse("spiffe://floor.example/env/env-bench/device/" + devID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ocsp, crl := s.statusURLs(floorOpCAID, devID)
	tmpl, err := issuance.OperationalTemplate(issuance.OperationalParams{
		SPIFFEID: spiffe, DeviceID: devID, PublicKey: cr.PublicKey,
		FactoryRef: issuance.FactoryRef{RawIssuer: s.caCert.RawSubject, Serial: fSerial, CertSHA256: [32]byte(factorySHA)},
		NotBefore:  now.Add(-5 * time.Minute), NotAfter: now.Add(operationalLifetime),
		OCSPServer: ocsp, CRLDistributionPoints: crl,
	})
	if err != nil {
		return nil, err
	}
	p, tbs, keySHA, serial, err := prepare(s.opIssuer, issuance.ProfileOperational, tmpl)
	if err != nil {
		return nil, err
	}
	if err := s.do(ctx, func(tx *wtx) error {
		row, err := tx.queryRow(qKeyFree, keySHA, devID)
		if err != nil {
			return err
		}
		var bound bool
		if err := row.Scan(&bound); err != nil {
			return err
		}
		if bound {
			return errKeyBound
		}
		_, err = tx.exec(qReserve, serial, keySHA, devID, tbs)
		return err
	}); err != nil {
		return nil, err
	}
	cert, err := s.opIssuer.Sign(p)
	if err != nil {
		return nil, err
	}
	action := "device.onboard"
	if renew {
		action = "device.renew"
	}
	if err := s.do(ctx, func(tx *wtx) error {
		if err := one(tx.exec(qIssued, cert.Raw, serial)); err != nil {
			return fmt.Errorf("certificate %s was not reserved: %w", serial, err)
		}
		if renew {
			if err := one(tx.exec(qSupersede, current)); err != nil {
				return fmt.Errorf("certificate %s is no longer current: %w", current, err)
			}
		}
		if err := one(tx.exec(qOperational, serial, devID, current)); err != nil {
			return fmt.Errorf("device %s changed meanwhile: %w", devID, err)
		}
		detail, err := json.Marshal(map[string]any{"certificate": serial, "previous": current, "factory": factorySerial})
		if err != nil {
			return err
		}
		return s.appendAudit(tx, audit.Event{At: now, PartyID: "floor", PrincipalID: "device:" + devID, Action: action, Subject: "device:" + devID, Detail: detail})
	}); err != nil {
		return nil, err
	}
	return cert, nil
}

// one is nil when res changed exactly one row.
func one(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%d rows changed, not 1", n)
	}
	return nil
}

// notCurrent describes a failed look-up of the presented certificate.
func notCurrent(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("the client certificate is not this device's current certificate")
	}
	return err
}

// floorOpCAID names the operational CA in status URLs.
const floorOpCAID = "ca-flooroperational00"
