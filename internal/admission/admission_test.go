package admission

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestShedsBeyondSlotsAndQueue fills every slot with requests that block, queues a few more,
// and checks that the rest are answered at once with 503 and Retry-After, that queued requests
// run when a slot frees, and that unmatched requests are never limited.
func TestShedsBeyondSlotsAndQueue(t *testing.T) {
	l := New(Config{Slots: 2, Queue: 1, Wait: 5 * time.Second, RetryAfter: 7 * time.Second})
	block := make(chan struct{})
	var started sync.WaitGroup
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started.Done()
			<-block
		}
		w.WriteHeader(200)
	}), func(r *http.Request) bool { return r.Method == "POST" }, func(w http.ResponseWriter, r *http.Request, code int, _ string) {
		http.Error(w, "busy", code)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(path string) (*http.Response, error) {
		return http.Post(srv.URL+path, "text/plain", nil)
	}
	started.Add(2)
	results := make(chan int, 3)
	for range 2 {
		go func() {
			res, err := post("/slow")
			if err == nil {
				res.Body.Close()
				results <- res.StatusCode
			}
		}()
	}
	started.Wait()
	// The queue's one place: it waits for a slot.
	go func() {
		res, err := post("/fast")
		if err == nil {
			res.Body.Close()
			results <- res.StatusCode
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for l.waiting.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the third request never queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Slots and queue are full: shed at once.
	start := time.Now()
	res, err := post("/fast")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("over capacity: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shedding took %s: it must not wait", d)
	}
	// Reads are never limited.
	gr, err := http.Get(srv.URL + "/slow-read")
	if err != nil {
		t.Fatal(err)
	}
	gr.Body.Close()
	if gr.StatusCode != 200 {
		t.Fatalf("an unmatched request was limited: %d", gr.StatusCode)
	}
	close(block)
	for range 3 {
		select {
		case code := <-results:
			if code != 200 {
				t.Fatalf("an admitted or queued request got %d", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("admitted requests did not finish")
		}
	}
	if l.Admitted.Load() != 3 || l.Shed.Load() != 1 {
		t.Fatalf("admitted %d shed %d, want 3 and 1", l.Admitted.Load(), l.Shed.Load())
	}
}

// TestQueuedRequestGivesUpAfterWait: a queued request that gets no slot within Wait is shed.
func TestQueuedRequestGivesUpAfterWait(t *testing.T) {
	l := New(Config{Slots: 1, Queue: 1, Wait: 50 * time.Millisecond})
	release, ok := l.Acquire(context.Background())
	if !ok {
		t.Fatal("the first request was not admitted")
	}
	defer release()
	if _, ok := l.Acquire(context.Background()); ok {
		t.Fatal("a second request got the only slot")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := l.Acquire(ctx); ok {
		t.Fatal("a cancelled request was admitted")
	}
}

// TestAccessorsFollowLoad: InFlight and Queued follow what holds and waits for a slot, and
// Slots and QueueLimit report the configuration after defaults.
func TestAccessorsFollowLoad(t *testing.T) {
	l := New(Config{Slots: 2, Queue: 1, Wait: 5 * time.Second})
	if l.Slots() != 2 || l.QueueLimit() != 1 || l.InFlight() != 0 || l.Queued() != 0 {
		t.Fatalf("idle: slots %d queue %d in flight %d queued %d", l.Slots(), l.QueueLimit(), l.InFlight(), l.Queued())
	}
	var releases []func()
	for range 2 {
		release, ok := l.Acquire(context.Background())
		if !ok {
			t.Fatal("a free slot was refused")
		}
		releases = append(releases, release)
	}
	if l.InFlight() != 2 {
		t.Fatalf("in flight %d, want 2", l.InFlight())
	}
	got := make(chan bool, 1)
	go func() {
		release, ok := l.Acquire(context.Background())
		if ok {
			release()
		}
		got <- ok
	}()
	deadline := time.Now().Add(5 * time.Second)
	for l.Queued() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the third request never showed as queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := l.Acquire(context.Background()); ok || l.Queued() != 1 {
		t.Fatalf("over the queue: admitted %v, queued %d", ok, l.Queued())
	}
	releases[0]()
	if !<-got {
		t.Fatal("the queued request was shed when a slot freed")
	}
	releases[1]()
	if l.InFlight() != 0 || l.Queued() != 0 {
		t.Fatalf("after release: in flight %d queued %d", l.InFlight(), l.Queued())
	}
	if d := New(Config{}); d.Slots() != 64 || d.QueueLimit() != 256 {
		t.Fatalf("defaults: slots %d queue %d", d.Slots(), d.QueueLimit())
	}
}

// TestRetryAfterGrowsWithTheBacklog drives the limiter through windows on a clock of its own:
// the told delay follows the square root of sheds per admission, stays within its bounds, and
// falls back to the base after a quiet spell.
func TestRetryAfterGrowsWithTheBacklog(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(Config{Slots: 1, Queue: -1, RetryAfter: 5 * time.Second, MaxRetryAfter: time.Minute, Now: func() time.Time { return now }})
	if got := l.RetryAfter(); got != 5*time.Second {
		t.Fatalf("at the start Retry-After = %s, want the base 5s", got)
	}
	// window admits and sheds as told, then moves the clock past the window's end.
	window := func(admit, shed int) time.Duration {
		for range admit {
			release, ok := l.Acquire(context.Background())
			if !ok {
				t.Fatal("a free slot was refused")
			}
			release()
		}
		if shed > 0 {
			release, _ := l.Acquire(context.Background()) // holds the only slot
			l.Admitted.Add(-1)
			l.wAdmitted.Add(-1) // not one of the window's admissions
			for range shed {
				if _, ok := l.Acquire(context.Background()); ok {
					t.Fatal("admitted beyond the only slot with no queue")
				}
			}
			release()
		}
		if got := l.RetryAfter(); got == 0 {
			t.Fatal("no Retry-After")
		}
		now = now.Add(5 * time.Second)
		return l.RetryAfter()
	}
	for i, step := range []struct {
		admit, shed int
		want        time.Duration
	}{
		{10, 160, 20 * time.Second}, // 16 sheds per admission: ×4
		{10, 40, 40 * time.Second},  // 4 per admission: ×2
		{10, 10, 40 * time.Second},  // as many shed as admitted: settled
		{40, 10, 20 * time.Second},  // a quarter: ×½
		{1, 1_000_000, time.Minute}, // capped at MaxRetryAfter
		{100, 0, 30 * time.Second},  // nothing shed: halved
		{100, 0, 15 * time.Second},  //
		{100, 0, 7500 * time.Millisecond},
		{100, 0, 5 * time.Second}, // never below the base
	} {
		if got := window(step.admit, step.shed); got != step.want {
			t.Fatalf("window %d (%d admitted, %d shed): Retry-After = %s, want %s", i+1, step.admit, step.shed, got, step.want)
		}
	}
	window(1, 10_000)
	if got := l.RetryAfter(); got <= 5*time.Second {
		t.Fatalf("after a window of sheds Retry-After = %s, want it grown", got)
	}
	now = now.Add(time.Minute) // a quiet spell: no request at all
	if got := l.RetryAfter(); got != 5*time.Second {
		t.Errorf("after a quiet minute Retry-After = %s, want the base 5s", got)
	}
}

// TestShedAnswerCarriesTheGrownRetryAfter: the header is what RetryAfter says.
func TestShedAnswerCarriesTheGrownRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(Config{Slots: 1, Queue: -1, RetryAfter: 2 * time.Second, Now: func() time.Time { return now }})
	l.RetryAfter() // opens the first window
	release, _ := l.Acquire(context.Background())
	defer release()
	h := l.Wrap(http.NotFoundHandler(), func(*http.Request) bool { return true }, func(w http.ResponseWriter, r *http.Request, code int, _ string) {
		w.WriteHeader(code)
	})
	shedOnce := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
		return rec.Header().Get("Retry-After")
	}
	for range 99 {
		if got := shedOnce(); got != "2" {
			t.Fatalf("Retry-After %q within the first window, want 2", got)
		}
	}
	now = now.Add(2 * time.Second)
	// 100 sheds against the one admission (the slot held): ×10.
	if got := shedOnce(); got != "20" {
		t.Errorf("Retry-After %q after a window of 100 sheds, want 20", got)
	}
}
