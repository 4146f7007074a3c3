package operational

import "crypto"

// VerifyChallenge reports whether sig is pub's signature over msg in the form Proof.Signature
// describes (after base64 decoding): ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of msg, or
// Ed25519 over msg itself. It is the signature check of VerifyProof, where msg is the
// ProofMessage of a challenge.
func VerifyChallenge(pub crypto.PublicKey, msg, sig []byte) bool { return verify(pub, msg, sig) }
