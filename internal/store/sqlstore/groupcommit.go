package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Group commit. SQLite has one writer, and with synchronous=FULL every commit waits for an
// fsync; one issuance commits twice, so concurrent clients queue behind the disk, not the CPU.
// With group commit, the write transactions that arrive while one commit is in flight are run
// together in the next database transaction and committed with one fsync. Each caller still
// gets exactly its own outcome:
//
//   - a function that fails (or changes state without an audit event) gets its error and none
//     of its writes is committed; the others in the batch are unaffected (a batch first runs
//     without savepoints, and again with one per request when a function failed: run);
//   - a failed COMMIT fails every function of the batch (none of them committed);
//   - nothing is acknowledged before the COMMIT that made it durable returned.
//
// Functions of one batch run one after the other, in arrival order, so each sees the writes of
// those before it exactly as if they had committed first: the order is still total, and the
// audit tree appends leaves in that order. Statements run under the batch's own context, never
// a caller's: SQLite answers an interrupted statement by rolling back the whole transaction,
// which would take the other callers' work with it. A caller whose context ends before its
// turn is skipped with the context's error.
//
// PostgreSQL uses it too, for another reason: every audited write takes the one audit head
// row, so concurrent write transactions there are serial anyway, and under SERIALIZABLE all but
// one of them used to fail and retry (measured: 500s after 30 attempts at 64 clients). One
// batch at a time per replica, behind the dialect's write lock across replicas, queues them
// instead, and shares each commit's WAL flush.

type batchReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

type batcher struct {
	s    *Store
	reqs chan *batchReq
	max  int
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	careful            int          // batches still to run with savepoints straight away (writer goroutine only)
	batches, fallbacks atomic.Int64 // batches run; optimistic runs that failed and ran again
}

// GroupCommitStats reports how many batches the group commit ran and how many of them ran
// twice (an optimistic run that a failing function rolled back); zeros without group commit.
func (s *Store) GroupCommitStats() (batches, fallbacks int64) {
	if s.batch == nil {
		return 0, 0
	}
	return s.batch.batches.Load(), s.batch.fallbacks.Load()
}

// EnableGroupCommit makes Update batch concurrent write transactions, at most max per
// database transaction. Call it once, before use; Close stops it.
func (s *Store) EnableGroupCommit(max int) {
	if max < 2 {
		return
	}
	b := &batcher{s: s, reqs: make(chan *batchReq), max: max, quit: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	s.batch = b
}

var errClosed = errors.New("store: closed")

func (b *batcher) do(ctx context.Context, fn func(store.Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return errClosed
	}
	// Once handed over, the request runs (or is skipped) and answered; waiting for that
	// answer even after ctx ends tells the caller the truth about a commit in flight.
	return <-r.done
}

func (b *batcher) stop() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}

func (b *batcher) loop() {
	defer b.wg.Done()
	for {
		var first *batchReq
		select {
		case first = <-b.reqs:
		case <-b.quit:
			return
		}
		batch := []*batchReq{first}
		yielded := false
	drain:
		for len(batch) < b.max {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				if yielded {
					break drain
				}
				// Once, before the batch closes: every goroutine runnable now gets its turn,
				// and those about to hand over a write join this commit instead of the next.
				// On an idle server nothing else is runnable and Gosched returns at once, so
				// a lone request waits for nothing; under load a batch grew from about 4 to 27
				// writes, and the CPU of a factory issuance fell 9% (BENCHMARKS.md, sixth
				// round): one commit's fsync, WAL frames and checksums shared by more writes,
				// whose pages (the tables' and indexes' right edges, the audit tree) overlap.
				yielded = true
				runtime.Gosched()
			}
		}
		b.run(batch)
		b.s.maintain()
	}
}

// carefulBatches is how many batches run with savepoints straight away after one whose
// optimistic run failed: a stream of failing requests (a client retrying a duplicate) then
// costs a re-run once in a while, not in every batch.
const carefulBatches = 8

// run executes one batch in one transaction and answers every request.
//
// It first runs the batch optimistically, without savepoints: when every function succeeds,
// as nearly all do, that is the same transaction less two statements per request and the
// sub-journal of every page a savepoint first touches. When one fails, the whole transaction
// is rolled back (nothing of it was committed or answered) and the batch runs again with a
// savepoint per request (runIsolated), which gives each caller its own outcome. A function
// may run twice: Update's contract already allows that (it retries).
func (b *batcher) run(batch []*batchReq) {
	results := make([]error, len(batch))
	b.batches.Add(1)
	if b.careful > 0 {
		b.careful--
		b.runIsolated(batch, results)
	} else if !b.runOptimistic(batch, results) {
		b.fallbacks.Add(1)
		b.careful = carefulBatches
		clear(results)
		b.runIsolated(batch, results)
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// begin starts a batch's transaction and takes the dialect's write lock; on failure every
// request gets the error.
func (b *batcher) begin(results []error) *sql.Tx {
	ctx := context.Background()
	stx, err := b.s.writer.BeginTx(ctx, b.s.txOpts)
	if err != nil {
		for i := range results {
			results[i] = fmt.Errorf("store: begin: %w", err)
		}
		return nil
	}
	if err := b.s.writeLock(ctx, stx); err != nil {
		_ = stx.Rollback()
		for i := range results {
			results[i] = fmt.Errorf("store: group commit: %w", err)
		}
		return nil
	}
	return stx
}

// commit writes the batch's audit head and commits a batch in which some request succeeded
// (else rolls it back); a failure there fails every request that had succeeded.
func (b *batcher) commit(stx *sql.Tx, results []error, committed int, last *tx, unprepared *[]string) {
	if committed == 0 {
		_ = stx.Rollback()
		return
	}
	last.unprepared = last.unprepared[:0] // already in *unprepared
	err := last.flushAuditHead()
	*unprepared = append(*unprepared, last.unprepared...)
	if err != nil {
		_ = stx.Rollback()
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("store: group commit: %w", err)
			}
		}
		return
	}
	if err := stx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = &commitError{err}
			}
		}
	}
}

// runOptimistic runs the batch without savepoints. It reports false, having rolled back,
// when a function failed and the batch held more than that one request; results are then
// to be discarded. Otherwise the batch is done and results hold every outcome.
func (b *batcher) runOptimistic(batch []*batchReq, results []error) bool {
	stx := b.begin(results)
	if stx == nil {
		return true
	}
	ctx := context.Background()
	committed := 0
	var unprepared []string
	txStmts := map[string]*sql.Stmt{}                            // statements bound to stx, shared by the batch's requests
	head := &auditHead{}                                         // and the audit head
	defer func() { b.s.stmts.prepare(b.s.writer, unprepared) }() // after the connection is released
	var t *tx
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		t = &tx{tx: stx, ctx: ctx, d: b.s.d, writable: true, db: b.s.writer, stmts: b.s.stmts, caCerts: b.s.caCerts, txStmts: txStmts, head: head}
		err := r.fn(t)
		unprepared = append(unprepared, t.unprepared...)
		if err == nil && t.changed && !t.audited {
			err = store.ErrUnaudited
		}
		if err != nil {
			_ = stx.Rollback()
			if len(batch) == 1 {
				results[i] = err // its own transaction: the rollback was its outcome
				return true
			}
			return false
		}
		committed++
	}
	b.commit(stx, results, committed, t, &unprepared)
	return true
}

// runIsolated runs the batch with each request inside a savepoint of its own: a function
// that fails is rolled back to its savepoint and gets its error, the others are unaffected.
func (b *batcher) runIsolated(batch []*batchReq, results []error) {
	stx := b.begin(results)
	if stx == nil {
		return
	}
	ctx := context.Background()
	committed := 0
	var unprepared []string
	txStmts := map[string]*sql.Stmt{}
	head := &auditHead{}
	defer func() { b.s.stmts.prepare(b.s.writer, unprepared) }()
	var t *tx
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := b.exec(stx, "SAVEPOINT hm_batch", &unprepared); err != nil {
			b.abort(stx, batch, results, i, err)
			return
		}
		mark := head.mark()
		t = &tx{tx: stx, ctx: ctx, d: b.s.d, writable: true, db: b.s.writer, stmts: b.s.stmts, caCerts: b.s.caCerts, txStmts: txStmts, head: head}
		err := r.fn(t)
		unprepared = append(unprepared, t.unprepared...)
		if err == nil && t.changed && !t.audited {
			err = store.ErrUnaudited
		}
		if err != nil {
			results[i] = err
			rerr := b.exec(stx, "ROLLBACK TO SAVEPOINT hm_batch", &unprepared)
			if rerr == nil {
				rerr = head.reset(mark)
			}
			if rerr != nil {
				b.abort(stx, batch, results, i+1, rerr)
				return
			}
		} else {
			committed++
		}
		if err := b.exec(stx, "RELEASE SAVEPOINT hm_batch", &unprepared); err != nil {
			b.abort(stx, batch, results, i+1, err)
			return
		}
	}
	b.commit(stx, results, committed, t, &unprepared)
}

// exec runs one of the batch's own statements (the savepoints) in stx, prepared when the
// statement cache has it, else as text, noting it in unprepared for the cache.
func (b *batcher) exec(stx *sql.Tx, q string, unprepared *[]string) error {
	ctx := context.Background()
	if st := b.s.stmts.get(b.s.writer, q); st != nil {
		_, err := stx.StmtContext(ctx, st).ExecContext(ctx) // once or twice per request: not kept
		return err
	}
	if b.s.stmts != nil && len(*unprepared) < 64 {
		*unprepared = append(*unprepared, q)
	}
	_, err := stx.ExecContext(ctx, q)
	return err
}

// abort rolls the whole batch back after a savepoint itself failed: every request that had not
// failed on its own, and those not yet run (from next on), get err.
func (b *batcher) abort(stx *sql.Tx, batch []*batchReq, results []error, next int, err error) {
	_ = stx.Rollback()
	for i := range batch {
		if results[i] == nil || i >= next {
			results[i] = fmt.Errorf("store: group commit: %w", err)
		}
	}
}
