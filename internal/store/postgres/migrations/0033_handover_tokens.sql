-- Hand-over tokens (docs/governance.md, Roles): a token a deployment administrator minted for a
-- principal of a party, or one minted in a request authenticated by a hand-over token (whoever
-- held that token holds the new one). Such a token lives at most 72h and keeps the principal a
-- handover gap; the flag is what the mint knew, since who minted a token (created_by) cannot
-- tell a principal's own rotation from one made with the hand-over token it was given.
ALTER TABLE principal_tokens ADD COLUMN handover BIGINT NOT NULL DEFAULT 0;
-- Tokens minted before: hand-over tokens are those a deployment administrator (its party in the
-- principal lineage, which outlives it) minted for a principal of a party, as the gaps report
-- read them until now. What was minted with such a token before this migration is not known.
UPDATE principal_tokens SET handover = 1
WHERE created_by IN (SELECT principal_id FROM principal_lineage WHERE party_id = '*')
  AND principal_id IN (SELECT id FROM principals WHERE party_id <> '*');
