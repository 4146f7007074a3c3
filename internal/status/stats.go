package status

// CRL request sources, the indexes of Service.crlServed.
const (
	servedMemory = iota // a CRL already built (or read) was served at once
	servedBuild         // the request waited for a build
	servedStore         // a follower's stale CRL: the leader's stored one was served
)

// Stats are the service's counters (since it was made) and its cache sizes now, for the
// metrics (internal/metrics reads them at scrape time through internal/app).
type Stats struct {
	// OCSPCache holds one element per tier of the answer cache: "known", then "unknown".
	OCSPCache []CacheStats
	// OCSPCached and OCSPSigned count answers served from the cache and answers signed
	// (cache misses, requests with a nonce, unknown serials beyond the cache).
	OCSPCached, OCSPSigned int64
	// OCSPDisputed counts tryLater answers for certificates whose rows disagree with the
	// audit log; Disputed is how many such certificates there are now.
	OCSPDisputed int64
	Disputed     int
	// FullCRLBuilds and PartitionCRLBuilds count the CRLs this replica built and signed.
	FullCRLBuilds, PartitionCRLBuilds int64
	// CRLServedMemory counts CRL requests served at once from the CRL in memory;
	// CRLServedBuild those that waited for a build (none yet, or older than CRLInterval);
	// CRLServedStore those that, on a follower, found the CRL in memory stale and were
	// served the leader's stored CRL (read again at most once per CRLMinGap).
	CRLServedMemory, CRLServedBuild, CRLServedStore int64
}

// Stats returns the current counters and cache sizes. It takes the cache's read locks
// briefly and reads nothing else.
func (s *Service) Stats() Stats {
	return Stats{
		OCSPCache:          []CacheStats{s.cache.known.stats(), s.cache.unknown.stats()},
		OCSPCached:         s.ocspCached.Load(),
		OCSPSigned:         s.ocspSigned.Load(),
		OCSPDisputed:       s.ocspDisputed.Load(),
		Disputed:           s.disputed(),
		FullCRLBuilds:      s.crlBuilds[0].Load(),
		PartitionCRLBuilds: s.crlBuilds[1].Load(),
		CRLServedMemory:    s.crlServed[servedMemory].Load(),
		CRLServedBuild:     s.crlServed[servedBuild].Load(),
		CRLServedStore:     s.crlServed[servedStore].Load(),
	}
}

func (s *Service) disputed() int {
	if s.c.Disputes == nil {
		return 0
	}
	return s.c.Disputes.Len()
}
