package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Group commit. SQLite has one writer, and with synchronous=FULL every commit waits for an
// fsync; one issuance commits twice, so concurrent clients queue behind the disk, not the CPU.
// With group commit, the write transactions that arrive while one commit is in flight are run
// together in the next database transaction, each inside a savepoint of its own, and committed
// with one fsync. Each caller still gets exactly its own outcome:
//
//   - a function that fails (or changes state without an audit event) is rolled back to its
//     savepoint and gets its error; the others in the batch are unaffected;
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
	drain:
		for len(batch) < b.max {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

// run executes one batch in one transaction and answers every request.
func (b *batcher) run(batch []*batchReq) {
	results := make([]error, len(batch))
	answer := func() {
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	ctx := context.Background()
	stx, err := b.s.writer.BeginTx(ctx, b.s.txOpts)
	if err != nil {
		for i := range results {
			results[i] = fmt.Errorf("store: begin: %w", err)
		}
		answer()
		return
	}
	if err := b.s.writeLock(ctx, stx); err != nil {
		b.abort(stx, batch, results, 0, err)
		answer()
		return
	}
	committed := 0
	var unprepared []string
	txStmts := map[string]*sql.Stmt{}                            // statements bound to stx, shared by the batch's requests
	defer func() { b.s.stmts.prepare(b.s.writer, unprepared) }() // after the connection is released
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := b.exec(stx, "SAVEPOINT hm_batch", &unprepared); err != nil {
			b.abort(stx, batch, results, i, err)
			answer()
			return
		}
		t := &tx{tx: stx, ctx: ctx, d: b.s.d, writable: true, db: b.s.writer, stmts: b.s.stmts, caCerts: b.s.caCerts, txStmts: txStmts}
		err := r.fn(t)
		unprepared = append(unprepared, t.unprepared...)
		if err == nil && t.changed && !t.audited {
			err = store.ErrUnaudited
		}
		if err != nil {
			results[i] = err
			if rerr := b.exec(stx, "ROLLBACK TO SAVEPOINT hm_batch", &unprepared); rerr != nil {
				b.abort(stx, batch, results, i+1, rerr)
				answer()
				return
			}
		} else {
			committed++
		}
		if err := b.exec(stx, "RELEASE SAVEPOINT hm_batch", &unprepared); err != nil {
			b.abort(stx, batch, results, i+1, err)
			answer()
			return
		}
	}
	if committed == 0 {
		_ = stx.Rollback()
		answer()
		return
	}
	if err := stx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = &commitError{err}
			}
		}
	}
	answer()
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
