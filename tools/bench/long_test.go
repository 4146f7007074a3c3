package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestParseGoHeap reads the Go collector's heap figures from a Prometheus text exposition,
// and reports a page without all of them as not read.
func TestParseGoHeap(t *testing.T) {
	page := `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.4e-05
go_gc_duration_seconds_sum 0.0123
go_gc_duration_seconds_count 417
go_memstats_heap_alloc_bytes 3.1457280e+07
go_memstats_heap_inuse_bytes 4.194304e+07
go_memstats_heap_released_bytes 1.048576e+06
go_memstats_sys_bytes 7.340032e+07
hallmark_certificates_issued_total{stage="manufacturing"} 1000
`
	g := parseGoHeap(page)
	if !g.ok || g.inuse != 40<<20 || g.alloc != 30<<20 || g.sys != 70<<20 || g.released != 1<<20 || g.gcs != 417 {
		t.Errorf("got %+v", g)
	}
	if g := parseGoHeap(strings.Replace(page, "go_memstats_sys_bytes", "go_memstats_other", 1)); g.ok {
		t.Errorf("a page without go_memstats_sys_bytes read as complete: %+v", g)
	}
	if g := parseGoHeap("go_memstats_heap_inuse_bytes x\n"); g.ok || g.inuse != 0 {
		t.Errorf("a bad value read: %+v", g)
	}
}

// TestWriteLongTable: the rows are the first samples past 10% and 50%, the last, and the one
// with the highest RSS.
func TestWriteLongTable(t *testing.T) {
	mib := int64(1 << 20)
	samples := []longSample{
		{at: 0, issued: 0, rss: 50 * mib, hwm: 50 * mib},
		{at: 5 * time.Second, issued: 50, rss: 90 * mib, hwm: 91 * mib, cpu: 100 * time.Millisecond},
		{at: 10 * time.Second, issued: 120, rss: 140 * mib, hwm: 141 * mib, cpu: 240 * time.Millisecond, heap: goHeap{inuse: float64(60 * mib), alloc: float64(50 * mib), sys: float64(100 * mib), gcs: 9, ok: true}},
		{at: 50 * time.Second, issued: 600, rss: 120 * mib, hwm: 141 * mib, cpu: 1200 * time.Millisecond},
		{at: 99 * time.Second, issued: 1000, rss: 110 * mib, hwm: 141 * mib, cpu: 2000 * time.Millisecond},
	}
	var b strings.Builder
	writeLongTable(&b, samples, 1000)
	want := []string{
		"| start | 0 | 0s | 50 MiB | 50 MiB | — |",
		"| 10% | 120 | 10s | 140 MiB | 141 MiB | 60 MiB | 50 MiB | 100 MiB | 9 | 2.00 |",
		"| 50% | 600 | 50s | 120 MiB |",
		"| end | 1000 | 1m39s | 110 MiB |",
		"| highest VmRSS sampled | 120 | 10s | 140 MiB |",
	}
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
}

// TestParseLongFlags: -long is checked, and -profile also asks for a heap profile.
func TestParseLongFlags(t *testing.T) {
	o, err := parseFlags([]string{"-long", "1000000", "-long-every", "10s", "-clients", "64"}, io.Discard)
	if err != nil || o.long != 1000000 || o.longEvery != 10*time.Second {
		t.Errorf("got %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-long", "-1"}, {"-long", "10", "-long-every", "1ms"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	args := strings.Join(profileArgs(t.TempDir(), "hallmark", "/nonexistent"), " ")
	if !strings.Contains(args, "--cpuprofile") || !strings.Contains(args, "--memprofile") || !strings.HasSuffix(args, "hallmark.heap") {
		t.Errorf("profile args %q", args)
	}
}
