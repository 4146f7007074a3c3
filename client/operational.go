package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/api/proof"
)

// The operational stage and the manufacturing revocation path.

// CreateOperationalHierarchy creates an operator's operational root CA and an issuing CA under it.
func (c *Client) CreateOperationalHierarchy(ctx context.Context, r api.CreateOperationalHierarchyRequest) (api.Hierarchy, error) {
	var h api.Hierarchy
	return h, c.do(ctx, "POST", "/v1/operational/hierarchies", r, &h)
}

// CreateEnvironment defines an environment with version 1 of both policies (the server's
// defaults where the request has none).
func (c *Client) CreateEnvironment(ctx context.Context, r api.CreateEnvironmentRequest) (api.EnvironmentView, error) {
	var v api.EnvironmentView
	return v, c.do(ctx, "POST", "/v1/environments", r, &v)
}

// ListEnvironments lists the environments the caller may see.
func (c *Client) ListEnvironments(ctx context.Context) ([]api.Environment, error) {
	return list[api.Environment](ctx, c, "/v1/environments")
}

// GetEnvironment returns an environment with its current onboarding and renewal policies.
func (c *Client) GetEnvironment(ctx context.Context, id string) (api.EnvironmentView, error) {
	var v api.EnvironmentView
	return v, c.do(ctx, "GET", "/v1/environments/"+seg(id), nil, &v)
}

// SetPolicy stores spec (a policy document, JSON) as the next version of an environment's
// onboarding or renewal policy (kind api.PolicyOnboarding or api.PolicyRenewal) and returns
// that version.
func (c *Client) SetPolicy(ctx context.Context, envID, kind string, spec json.RawMessage) (api.PolicyVersion, error) {
	var pv api.PolicyVersion
	if !json.Valid(spec) {
		return pv, invalidf("the %s policy is not JSON", kind)
	}
	return pv, c.do(ctx, "PUT", "/v1/environments/"+seg(envID)+"/policies/"+seg(kind), spec, &governed{&pv})
}

// PolicyVersions lists the stored versions of an environment's policy of kind
// (api.PolicyOnboarding or api.PolicyRenewal), newest first.
func (c *Client) PolicyVersions(ctx context.Context, envID, kind string) ([]api.PolicyVersion, error) {
	var l api.PolicyVersionList
	err := c.do(ctx, "GET", "/v1/environments/"+seg(envID)+"/policies/"+seg(kind), nil, &l)
	return l.Items, err
}

// NewChallenge fetches a single-use challenge for a proof of key possession, bound to r's
// purpose, environment (or certificate to renew) and CSR key.
func (c *Client) NewChallenge(ctx context.Context, r api.ChallengeRequest) (api.Challenge, error) {
	var ch api.Challenge
	return ch, c.do(ctx, "POST", "/v1/challenges", r, &ch)
}

// Onboard exchanges a factory identity for an operational identity in an environment. The
// request carries a Proof over a challenge signed with the factory key (see Prove).
func (c *Client) Onboard(ctx context.Context, envID string, r api.OnboardRequest) (api.Identity, error) {
	var id api.Identity
	return id, c.do(ctx, "POST", "/v1/environments/"+seg(envID)+"/onboard", r, &id)
}

// Renew renews an operational identity; the Proof is signed with the current operational key.
func (c *Client) Renew(ctx context.Context, r api.RenewRequest) (api.Identity, error) {
	var id api.Identity
	return id, c.do(ctx, "POST", "/v1/renewals", r, &id)
}

// RevokeDevice revokes a device's operational identity (the runtime path) and quarantines it.
func (c *Client) RevokeDevice(ctx context.Context, id string, r api.RevokeRequest) (api.Device, error) {
	var d api.Device
	return d, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/revoke", r, &d)
}

// ReadmitDevice asks to re-admit a quarantined or suspended device, for r.Reason (required).
// Re-admission waits for an approval by another principal of the operator: the result holds
// the device as it is now and the approval request (a new one, or the one already pending).
func (c *Client) ReadmitDevice(ctx context.Context, id string, r api.ReadmitRequest) (api.ReadmitResult, error) {
	var res api.ReadmitResult
	return res, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/readmit", r, &res)
}

// ReoriginDevice asks to make a maker's re-issued factory certificate the current one of a
// maker's device; the result carries the approval it waits for.
func (c *Client) ReoriginDevice(ctx context.Context, id string, r api.ReoriginRequest) (api.ReoriginResult, error) {
	var res api.ReoriginResult
	return res, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/origin", r, &res)
}

// RevokeFactory revokes factory identities (the manufacturing path). Unless r.DryRun points to
// false it is a dry run: the result lists what would be revoked and suspended, and nothing
// changes; with r.Limit it lists only the first rows, and res.Counts stays whole.
func (c *Client) RevokeFactory(ctx context.Context, r api.FactoryRevokeRequest) (api.FactoryRevokeResult, error) {
	var res api.FactoryRevokeResult
	err := c.do(ctx, "POST", "/v1/manufacturing/revocations", r, &res)
	if res.Factory == nil {
		res.Factory = []api.FactoryCert{}
	}
	if res.Suspended == nil {
		res.Suspended = []api.Suspension{}
	}
	return res, err
}

// GetRevocation returns a manufacturing revocation run and its cascade items.
func (c *Client) GetRevocation(ctx context.Context, runID string) (api.RevocationCascade, error) {
	var rc api.RevocationCascade
	err := c.do(ctx, "GET", "/v1/manufacturing/revocations/"+seg(runID), nil, &rc)
	if rc.Items == nil {
		rc.Items = []api.CascadeItem{}
	}
	return rc, err
}

// Prove signs ch's proof message (proof.Message) with key, locally, as the server
// verifies it: ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of the message, Ed25519 over the
// message itself. key is the factory key at onboarding and the current operational key at
// renewal; it never leaves the caller. The message is built here from what the caller knows:
// purpose (proof.PurposeOnboard or proof.PurposeRenew), the environment envID it onboards into
// ("" at renewal, where the challenge names the device's environment) and the key of its own
// CSR, csrKey; a challenge issued for anything else is refused before anything is signed, so a
// relay cannot have the device sign for another key or environment.
func Prove(ch api.Challenge, purpose, envID string, csrKey crypto.PublicKey, key crypto.Signer) (api.Proof, error) {
	keyHash, err := proof.KeySHA256(csrKey)
	if err != nil {
		return api.Proof{}, invalidf("%v", err)
	}
	if envID == "" {
		envID = ch.EnvironmentID
	}
	if ch.Purpose != purpose || ch.EnvironmentID != envID || !strings.EqualFold(ch.CSRKeySHA256, keyHash) {
		return api.Proof{}, fmt.Errorf("client: challenge %s is for %s in %s with CSR key %s, not %s in %s with CSR key %s: refusing to sign it",
			ch.ID, ch.Purpose, ch.EnvironmentID, ch.CSRKeySHA256, purpose, envID, keyHash)
	}
	msg, err := proof.Message(purpose, envID, ch.Nonce, keyHash)
	if err != nil {
		return api.Proof{}, fmt.Errorf("client: challenge %s: %w", ch.ID, err)
	}
	var sig []byte
	switch key.Public().(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		h := sha256.Sum256(msg)
		sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
	case ed25519.PublicKey:
		sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		return api.Proof{}, invalidf("a %T key cannot sign a challenge; use ECDSA, RSA or Ed25519", key.Public())
	}
	if err != nil {
		return api.Proof{}, fmt.Errorf("client: signing challenge %s: %w", ch.ID, err)
	}
	return api.Proof{ChallengeID: ch.ID, Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}
