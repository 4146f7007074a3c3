-- A whole-CA revocation retires the issuing CA: it issues nothing more, while its CRLs and
-- OCSP answers go on being served for the certificates it issued.
ALTER TABLE cas ADD COLUMN retired_at BIGINT;
