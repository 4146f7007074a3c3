package manufacturing

// SetRevocationPages makes a revocation read factory certificates page at a time and revoke
// them chunk at a time, so that a test crosses page and chunk boundaries with a few devices.
func SetRevocationPages(s *Service, chunk, page int) { s.chunk, s.selectPage = chunk, page }
