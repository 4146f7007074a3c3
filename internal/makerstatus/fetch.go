package makerstatus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// fetcher does the HTTP of every source: one timeout per fetch, a body limit counted while
// reading, and a bound on concurrent fetches per host.
type fetcher struct {
	client  *http.Client
	perHost int

	mu    sync.Mutex
	hosts map[string]chan struct{}
}

// maxRedirects bounds the redirects a source may send (CRLs are often moved to a CDN).
const maxRedirects = 3

func newFetcher(client *http.Client, perHost int) *fetcher {
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = perHost
		t.ResponseHeaderTimeout = 0 // the per-fetch context bounds everything
		client = &http.Client{Transport: t}
	}
	c := *client
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to a %s URL", req.URL.Scheme)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &fetcher{client: &c, perHost: perHost, hosts: map[string]chan struct{}{}}
}

// slot takes one of host's fetch slots, waiting at most until ctx ends; release gives it back.
func (f *fetcher) slot(ctx context.Context, host string) (release func(), err error) {
	f.mu.Lock()
	ch := f.hosts[host]
	if ch == nil {
		ch = make(chan struct{}, f.perHost)
		f.hosts[host] = ch
	}
	f.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a fetch slot for %s: %w", host, ctx.Err())
	}
}

// fetched is a body and how long fetching it took.
type fetched struct {
	body    []byte
	elapsed time.Duration
}

// fetch GETs rawURL (or POSTs body as contentType when body is not nil) within timeout and
// returns the response body, at most limit bytes. A declared Content-Length over limit is
// refused before reading; an undeclared one is counted while reading and dropped once it
// passes limit. Errors are *SourceError of outcome Unreachable or Oversized.
func (f *fetcher) fetch(ctx context.Context, src Source, method, rawURL string, body []byte, contentType string, timeout time.Duration, limit int64) (fetched, *SourceError) {
	started := time.Now()
	fail := func(o Outcome, err error) (fetched, *SourceError) {
		return fetched{elapsed: time.Since(started)}, &SourceError{Source: src, Outcome: o, Err: err}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail(Invalid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	release, err := f.slot(ctx, u.Host)
	if err != nil {
		return fail(Unreachable, err)
	}
	defer release()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return fail(Invalid, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "hallmark-makerstatus")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(Unreachable, fmt.Errorf("no answer within %s: %w", timeout, err))
		}
		return fail(Unreachable, err)
	}
	// Closing without draining drops the connection, which is what an oversized or failed
	// body deserves: draining would read what the limit is there to refuse.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(Unreachable, fmt.Errorf("HTTP status %d", resp.StatusCode))
	}
	if resp.ContentLength > limit {
		return fail(Oversized, fmt.Errorf("Content-Length %d is over the limit of %d bytes; not read", resp.ContentLength, limit))
	}
	capHint := limit
	if resp.ContentLength >= 0 {
		capHint = resp.ContentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(capHint, 1<<20)+1))
	n, err := io.Copy(buf, io.LimitReader(resp.Body, limit+1))
	if n > limit {
		return fail(Oversized, fmt.Errorf("body is over the limit of %d bytes; dropped after %d", limit, n))
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(Unreachable, fmt.Errorf("body not read within %s: %w", timeout, err))
		}
		return fail(Unreachable, fmt.Errorf("reading the body: %w", err))
	}
	return fetched{body: buf.Bytes(), elapsed: time.Since(started)}, nil
}
