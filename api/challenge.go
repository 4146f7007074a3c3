package api

import "time"

// Onboarding and renewal over the API: the device fetches a challenge bound to its purpose,
// environment and new CSR key, signs the challenge's proof.Message with the key it proves (the
// factory key at onboarding, the current operational key at renewal) and sends the signature
// with its new CSR.

// ChallengeRequest asks for a challenge (POST /v1/challenges): it names what the proof
// will be for, so that a signature made for one purpose, environment or CSR key is refused
// for any other.
type ChallengeRequest struct {
	Purpose string `json:"purpose"` // proof.PurposeOnboard or proof.PurposeRenew
	// EnvironmentID is the environment to onboard into (purpose onboard only).
	EnvironmentID string `json:"environment_id,omitempty"`
	// CertificateSerial is the hex serial of the operational certificate to renew (purpose
	// renew only).
	CertificateSerial string `json:"certificate_serial,omitempty"`
	// CSRKeySHA256 is proof.KeySHA256 of the key in the CSR the proof will be sent with.
	CSRKeySHA256 string `json:"csr_key_sha256"`
}

// Challenge is a fresh, single-use nonce bound to the caller, a purpose, an environment and a
// CSR key. The device signs proof.Message of these values with the key it proves.
type Challenge struct {
	ID            string    `json:"id"`
	Nonce         string    `json:"nonce"` // base64 of 32 random bytes, as it goes into the proof message
	Purpose       string    `json:"purpose"`
	EnvironmentID string    `json:"environment_id"`
	CSRKeySHA256  string    `json:"csr_key_sha256"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// Proof is a signature over a challenge's proof.Message.
type Proof struct {
	ChallengeID string `json:"challenge_id"`
	// Signature is base64: ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of the proof
	// message, or Ed25519 over the message itself — what `openssl dgst -sha256 -sign key`
	// (or `openssl pkeyutl -sign` for Ed25519) produces.
	Signature string `json:"signature"`
}

// Facts are what a device reports about itself now; policies compare them with its build
// record.
type Facts struct {
	FirmwareDigest   string            `json:"firmware_digest,omitempty"`
	HardwareRevision string            `json:"hardware_revision,omitempty"`
	Extra            map[string]string `json:"extra,omitempty"`
}

// OnboardRequest exchanges a factory identity for an operational one in the environment of
// the path (POST /v1/environments/{id}/onboard).
type OnboardRequest struct {
	CSR string `json:"csr"`
	// FactoryCertificate is the device's IDevID, optionally followed by its chain, PEM.
	FactoryCertificate string `json:"factory_certificate"`
	Proof              Proof  `json:"proof"`
	Facts              Facts  `json:"facts"`
}

// RenewRequest renews an operational identity: it presents the current certificate and
// proves possession of its key (POST /v1/renewals).
type RenewRequest struct {
	CSR                string `json:"csr"`
	CurrentCertificate string `json:"current_certificate"`
	Proof              Proof  `json:"proof"`
	Facts              Facts  `json:"facts"`
}

// Identity is an issued operational identity with the evidence it was issued on.
type Identity struct {
	Device         Device   `json:"device"`
	CertificatePEM string   `json:"certificate_pem"`
	ChainPEM       string   `json:"chain_pem"`
	Evidence       Evidence `json:"evidence"`
}
