package admission

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bodyServer serves l.Wrap over a handler that echoes the body's length, on loopback; every
// POST is limited. It answers refusals as "CODE detail".
func bodyServer(t *testing.T, l *Limiter, inHandler *atomic.Int64) *httptest.Server {
	t.Helper()
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler.Add(1)
		defer inHandler.Add(-1)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %x", len(b), b[:min(len(b), 4)])
	}), func(r *http.Request) bool { return r.Method == http.MethodPost }, func(w http.ResponseWriter, r *http.Request, code int, detail string) {
		http.Error(w, fmt.Sprintf("%d %s", code, detail), code)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 30 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// slowBody opens a connection that declares a body of declared bytes and sends only sent of
// them. It returns the connection; its answer can be read from it.
func slowBody(t *testing.T, addr string, declared, sent int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", declared, strings.Repeat("a", sent))
	return c
}

func answerOf(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestSlowBodiesHoldNoSlot: with one slot and no queue, clients trickling their bodies hold
// no slot: a whole request is admitted and answered while they wait, and each of them is
// answered 408 once its body timeout has passed.
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	l := New(Config{Slots: 1, Queue: -1, BodyTimeout: 500 * time.Millisecond})
	var inHandler atomic.Int64
	srv := bodyServer(t, l, &inHandler)
	addr := srv.Listener.Addr().String()
	var slow []net.Conn
	for range 5 {
		slow = append(slow, slowBody(t, addr, 60_000, 10))
	}
	start := time.Now()
	res, err := srv.Client().Post(srv.URL+"/", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "7 7b226122" {
		t.Fatalf("a whole request among slow bodies: %d %q", res.StatusCode, b)
	}
	if l.Shed.Load() != 0 || l.InFlight() != 0 {
		t.Fatalf("shed %d, in flight %d while the slow bodies trickle", l.Shed.Load(), l.InFlight())
	}
	for _, c := range slow {
		code, body := answerOf(t, c)
		if code != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive within 500ms") {
			t.Errorf("slow body: %d %q, want 408", code, body)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the slow bodies were answered after %s, want about 500ms", d)
	}
	if l.BodyTimeouts.Load() != 5 || l.Admitted.Load() != 1 || l.BodyBytes() != 0 {
		t.Errorf("timeouts %d admitted %d body bytes held %d, want 5, 1, 0", l.BodyTimeouts.Load(), l.Admitted.Load(), l.BodyBytes())
	}
}

// TestBodyReachesTheHandlerWhole: bodies of known and unknown (chunked) length, up to exactly
// MaxBody, reach the handler unchanged; one byte more is refused with 413, before and after
// reading; requests the limiter does not match are left alone.
func TestBodyReachesTheHandlerWhole(t *testing.T) {
	l := New(Config{Slots: 2, MaxBody: 100_000})
	var inHandler atomic.Int64
	srv := bodyServer(t, l, &inHandler)
	c := srv.Client()
	body := bytes.Repeat([]byte{0xab, 0xcd}, 50_000)
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
		want   string
	}{
		{"known length, at the bound", bytes.NewReader(body), 200, "100000 abcdabcd"},
		{"chunked, at the bound", io.MultiReader(bytes.NewReader(body[:1]), bytes.NewReader(body[1:])), 200, "100000 abcdabcd"},
		{"known length, one byte over", bytes.NewReader(append(body, 1)), 413, "larger than 100000 bytes"},
		{"chunked, one byte over", io.MultiReader(bytes.NewReader(body), strings.NewReader("x")), 413, "larger than 100000 bytes"},
		{"empty", http.NoBody, 200, "0 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Post(srv.URL+"/", "application/octet-stream", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%d %q, want %d with %q", res.StatusCode, b, tc.status, tc.want)
			}
		})
	}
	if l.BodyTooLarge.Load() != 2 || l.BodyBytes() != 0 {
		t.Errorf("too large %d, body bytes held %d, want 2 and 0", l.BodyTooLarge.Load(), l.BodyBytes())
	}
	req, _ := http.NewRequest("PUT", srv.URL+"/", bytes.NewReader(append(body, body...)))
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(b), "200000 ") {
		t.Errorf("an unmatched request's body: %d %q", res.StatusCode, b)
	}
}

// TestBodyMemoryIsBounded: bodies held at once count against BodyMemory; a request whose body
// does not fit is shed with 503 and Retry-After, and the memory comes back when the holders
// are answered.
func TestBodyMemoryIsBounded(t *testing.T) {
	l := New(Config{Slots: 4, MaxBody: 1000, BodyMemory: 1500, BodyTimeout: 500 * time.Millisecond, RetryAfter: 3 * time.Second})
	var inHandler atomic.Int64
	srv := bodyServer(t, l, &inHandler)
	holder := slowBody(t, srv.Listener.Addr().String(), 1000, 1)
	deadline := time.Now().Add(5 * time.Second)
	for l.BodyBytes() != 1001 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow body holds %d bytes, want 1001", l.BodyBytes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := srv.Client().Post(srv.URL+"/", "application/json", strings.NewReader(strings.Repeat("b", 999)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "3" {
		t.Fatalf("a body beyond BodyMemory: %d %q Retry-After %q, want 503", res.StatusCode, b, res.Header.Get("Retry-After"))
	}
	if l.ShedMemory.Load() != 1 || l.Shed.Load() != 1 {
		t.Errorf("shed for memory %d, shed %d, want 1 and 1", l.ShedMemory.Load(), l.Shed.Load())
	}
	if code, _ := answerOf(t, holder); code != http.StatusRequestTimeout {
		t.Fatalf("the holder: %d, want 408", code)
	}
	if n := l.BodyBytes(); n != 0 {
		t.Fatalf("after the holder's answer %d bytes are held", n)
	}
	res, err = srv.Client().Post(srv.URL+"/", "application/json", strings.NewReader(strings.Repeat("b", 999)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("once the memory came back: %d", res.StatusCode)
	}
}
