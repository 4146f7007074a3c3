-- IDevID validity (issue 15, point 5): what notAfter a manufacturing issuing CA gives the
-- factory certificates it issues. 'undefined' is IEEE 802.1AR's 99991231235959Z, the default
-- for hierarchies created from now on; 'issuer' is the issuing CA's own notAfter, which every
-- manufacturing issuing CA that exists already keeps. Other CAs issue no factory
-- certificates and hold ''.
ALTER TABLE cas ADD COLUMN factory_validity TEXT NOT NULL DEFAULT '';
UPDATE cas SET factory_validity = 'issuer' WHERE stage = 'manufacturing' AND role = 'issuing';
