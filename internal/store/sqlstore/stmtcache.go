package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared statements. modernc's SQLite parses and plans every statement it is given, and
// database/sql prepares a query given as text each time it runs: a profile of concurrent
// issuance put a tenth of the server's CPU in SQLite's parser. The cache keeps one *sql.Stmt
// per handle and query text; database/sql then prepares it once per connection and reuses it
// (Tx.StmtContext). A statement is never prepared inside a transaction: DB.PrepareContext needs
// a free connection, and the writer has only one, so a query seen for the first time is noted
// and prepared once its transaction has released the connection.

// maxCachedStmts bounds the cache; queries built with varying text beyond it run unprepared.
const maxCachedStmts = 512

type stmtKey struct {
	db    *sql.DB
	query string
}

type stmtCache struct {
	mu sync.RWMutex
	m  map[stmtKey]*sql.Stmt
}

// EnableStmtCache turns the prepared-statement cache on. Call it once, before use.
func (s *Store) EnableStmtCache() { s.stmts = &stmtCache{m: map[stmtKey]*sql.Stmt{}} }

func (c *stmtCache) get(db *sql.DB, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[stmtKey{db, q}]
}

// prepare prepares the queries a finished transaction ran for the first time. Errors leave a
// query unprepared: it keeps running as text.
func (c *stmtCache) prepare(db *sql.DB, queries []string) {
	if c == nil || len(queries) == 0 {
		return
	}
	for _, q := range queries {
		c.mu.RLock()
		_, have := c.m[stmtKey{db, q}]
		full := len(c.m) >= maxCachedStmts
		c.mu.RUnlock()
		if have || full {
			continue
		}
		st, err := db.PrepareContext(context.Background(), q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, have := c.m[stmtKey{db, q}]; have {
			_ = st.Close()
		} else {
			c.m[stmtKey{db, q}] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, st := range c.m {
		_ = st.Close()
		delete(c.m, k)
	}
}

// stmt returns the transaction's form of the cached statement for q, or nil (and notes q
// for preparation) when there is none yet.
func (t *tx) stmt(q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if st, ok := t.txStmts[q]; ok {
		return st
	}
	if st := t.stmts.get(t.db, q); st != nil {
		// Tx.StmtContext allocates a statement bound to the transaction each time; keep it for
		// the rest of the transaction (and of the batch: groupcommit.go), where the audit
		// tree's inserts and every request of a batch run the same statements again.
		ts := t.tx.StmtContext(t.ctx, st)
		if t.txStmts == nil {
			t.txStmts = map[string]*sql.Stmt{}
		}
		t.txStmts[q] = ts
		return ts
	}
	if len(t.unprepared) < 64 {
		t.unprepared = append(t.unprepared, q)
	}
	return nil
}
