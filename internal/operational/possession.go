package operational

import "crypto"

// VerifyChallenge reports whether sig is pub's signature over a challenge nonce in the form
// Proof.Signature describes (after base64 decoding): ECDSA (ASN.1) or RSA PKCS#1 v1.5 over
// SHA-256 of the nonce, or Ed25519 over the nonce itself. It is the check onboarding and
// renewal make, for device-side code and its tests to check what they send against.
func VerifyChallenge(pub crypto.PublicKey, nonce, sig []byte) bool { return verify(pub, nonce, sig) }
