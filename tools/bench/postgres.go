package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pgDatabase is the fresh database that hallmark-pg's replicas share (-postgres): made with
// CREATE DATABASE in a server the harness was given (a URL), or in a private cluster it
// started with initdb and pg_ctl in a temporary folder ("auto"). It is dropped, and a private
// cluster stopped and removed, at the end of the run (the folder is kept with -keep).
type pgDatabase struct {
	admin string // URL of the maintenance database, where CREATE and DROP DATABASE run
	dsn   string // URL of the fresh database
	name  string

	// private: a cluster this run started, so its whole CPU and its log are the run's.
	private bool
	dir     string   // the private cluster's folder: data/, server.log, the socket
	pgCtl   string   // pg_ctl, for stopping it
	as      []string // prefix that runs the cluster's tools as user postgres (when root)
	logPath string   // the private cluster's server log

	postmaster int // PID; 0 when unknown (a server elsewhere, or its data folder unreadable)

	version, fsync, syncCommit, sharedBuffers string
}

// pgDatabaseName is a name unique to this run.
func pgDatabaseName() string {
	return fmt.Sprintf("hallmark_bench_%d_%d", os.Getpid(), time.Now().Unix())
}

// newPGDatabase makes the database spec names ("auto" or a postgres:// URL of a server the
// harness may create databases in) and reads the settings the report states.
func newPGDatabase(ctx context.Context, spec string, log io.Writer) (*pgDatabase, error) {
	d := &pgDatabase{name: pgDatabaseName()}
	if spec == "auto" {
		if err := d.startPrivate(ctx, log); err != nil {
			return d, err
		}
	} else {
		if _, err := withDatabase(spec, "x"); err != nil {
			return d, err
		}
		d.admin = spec
	}
	if _, err := psql(ctx, d.admin, "CREATE DATABASE "+d.name); err != nil {
		return d, fmt.Errorf("creating the database: %w", err)
	}
	d.dsn, _ = withDatabase(d.admin, d.name)
	out, err := psql(ctx, d.dsn, "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('shared_buffers')")
	if err != nil {
		return d, fmt.Errorf("reading the server's settings: %w", err)
	}
	if f := strings.Split(out, "|"); len(f) == 4 {
		d.version, d.fsync, d.syncCommit, d.sharedBuffers = f[0], f[1], f[2], f[3]
	}
	dataDir := filepath.Join(d.dir, "data")
	if !d.private {
		dataDir, _ = psql(ctx, d.dsn, "SHOW data_directory") // superusers only; best effort
	}
	if dataDir != "" {
		if b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
			d.postmaster, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		}
	}
	return d, nil
}

// startPrivate runs initdb into a new temporary folder and starts the cluster on a free
// loopback port with durable commits (fsync=on, synchronous_commit=on: the defaults, named
// anyway) and room for every replica's 32 connections. As root, initdb and pg_ctl run as user
// postgres (initdb refuses root), and the folder is handed to it.
func (d *pgDatabase) startPrivate(ctx context.Context, log io.Writer) error {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return fmt.Errorf("-postgres auto needs initdb on PATH: %w", err)
	}
	if d.pgCtl, err = exec.LookPath("pg_ctl"); err != nil {
		return fmt.Errorf("-postgres auto needs pg_ctl on PATH: %w", err)
	}
	if d.dir, err = os.MkdirTemp("", "hallmark-bench-pg-"); err != nil {
		return err
	}
	d.private, d.logPath = true, filepath.Join(d.dir, "server.log")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, initdb needs the user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(d.dir, uid, gid); err != nil {
			return err
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return fmt.Errorf("running as root, the cluster's tools run through runuser: %w", err)
		}
		d.as = []string{runuser, "-u", "postgres", "--"}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "initdb into %s, port %d\n", d.dir, port)
	data := filepath.Join(d.dir, "data")
	if _, err := d.tool(ctx, initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		return err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=%d -c fsync=on -c synchronous_commit=on -c full_page_writes=on",
		port, d.dir, pgMaxConnections)
	if _, err := d.tool(ctx, d.pgCtl, "-D", data, "-o", opts, "-l", d.logPath, "-w", "-t", "120", "start"); err != nil {
		return err
	}
	d.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return nil
}

// pgMaxConnections is the private cluster's max_connections: 16 replicas of 32 connections
// (internal/store/postgres keeps at most 32 per process) and the harness's own.
const pgMaxConnections = 16*32 + 20

// tool runs a cluster tool, as user postgres when d.as says so.
func (d *pgDatabase) tool(ctx context.Context, bin string, args ...string) ([]byte, error) {
	name := filepath.Base(bin)
	if len(d.as) > 0 {
		args = append(append(append([]string(nil), d.as[1:]...), bin), args...)
		bin = d.as[0]
	}
	out, err := runTool(ctx, nil, nil, bin, args...)
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", name, err, tail(out, 1000))
	}
	return out, nil
}

// close drops the database (unless keep) and stops a private cluster, removing its folder
// unless keep.
func (d *pgDatabase) close(keep bool, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !keep && d.dsn != "" {
		if _, err := psql(ctx, d.admin, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(log, "dropping the database %s: %v\n", d.name, err)
		}
	}
	if !d.private {
		return
	}
	if _, err := d.tool(ctx, d.pgCtl, "-D", filepath.Join(d.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		fmt.Fprintf(log, "stopping the private PostgreSQL: %v\n", err)
	}
	if keep {
		fmt.Fprintf(log, "the private PostgreSQL cluster is kept in %s\n", d.dir)
		return
	}
	os.RemoveAll(d.dir)
}

// withDatabase is the postgres:// URL u with its database replaced by name.
func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") || p.Host == "" {
		return "", fmt.Errorf("-postgres: want auto or a postgres://USER@HOST:PORT/DB URL, got %q", redactURL(u))
	}
	p.Path = "/" + name
	return p.String(), nil
}

// redactURL hides a URL's password for logs and reports.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil && p.Scheme != "" {
		return p.Redacted()
	}
	return u
}

// psql runs one SQL command with psql against the database at u and returns its unaligned,
// tuples-only output (fields separated by |), trimmed.
func psql(ctx context.Context, u, sql string) (string, error) {
	out, err := runTool(ctx, []string{"PGCONNECT_TIMEOUT=10"}, nil, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", u, "-c", sql)
	if err != nil {
		return "", fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(tail(out, 500)))
	}
	return strings.TrimSpace(string(out)), nil
}

// pgStats are a database's counters from pg_stat_database.
type pgStats struct {
	commits, rollbacks, deadlocks int64
	ok                            bool
}

// stats reads the database's counters. PostgreSQL 15 publishes a backend's counts when it
// goes idle, within 10 s: read them a while after the load stops.
func (d *pgDatabase) stats(ctx context.Context) pgStats {
	out, err := psql(ctx, d.dsn, "SELECT xact_commit, xact_rollback, deadlocks FROM pg_stat_database WHERE datname = current_database()")
	if err != nil {
		return pgStats{}
	}
	f := strings.Split(out, "|")
	if len(f) != 3 {
		return pgStats{}
	}
	var s pgStats
	var errs [3]error
	s.commits, errs[0] = strconv.ParseInt(f[0], 10, 64)
	s.rollbacks, errs[1] = strconv.ParseInt(f[1], 10, 64)
	s.deadlocks, errs[2] = strconv.ParseInt(f[2], 10, 64)
	s.ok = errors.Join(errs[:]...) == nil
	return s
}

// cpu is the database's CPU time so far. In a private cluster: the postmaster's own and its
// reaped children's (cutime, cstime), plus every live child's (backends, checkpointer, WAL
// writer). In a server shared with others: only the live backends of this run's database,
// found by their process title, which misses backends that exited. ok is false when the
// postmaster is unknown.
func (d *pgDatabase) cpu() (time.Duration, bool) {
	if d.postmaster == 0 {
		return 0, false
	}
	var total time.Duration
	if d.private {
		st, err := readStat(d.postmaster)
		if err != nil {
			return 0, false
		}
		total = st.self + st.children
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != d.postmaster {
			continue
		}
		if !d.private {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if !strings.Contains(string(cmd), " "+d.name+" ") {
				continue
			}
		}
		total += st.self
	}
	return total, true
}

// procStat is the part of /proc/PID/stat the database's CPU needs.
type procStat struct {
	ppid           int
	self, children time.Duration // utime+stime; cutime+cstime (reaped children)
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads ppid, utime+stime and cutime+cstime from the text of /proc/PID/stat,
// counting fields after the command name's last ')' as parseStatCPU does: ppid is field 1,
// utime 11, stime 12, cutime 13, cstime 14 (ticks of 10 ms).
func parseProcStat(stat string) (procStat, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, errors.New("/proc/PID/stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/PID/stat: %d fields after the command name, want at least 15", len(f))
	}
	var v [5]int64
	for k, idx := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil || n < 0 {
			return procStat{}, fmt.Errorf("/proc/PID/stat: field %q", f[idx])
		}
		v[k] = n
	}
	tick := time.Second / 100
	return procStat{ppid: int(v[0]), self: time.Duration(v[1]+v[2]) * tick, children: time.Duration(v[3]+v[4]) * tick}, nil
}

// pgLogSummary counts a private cluster's log lines by severity (ERROR, FATAL, …), its
// serialization failures (SQLSTATE 40001, which Hallmark retries) and its most frequent
// ERROR messages.
func pgLogSummary(path string) (levels map[string]int, serialization int, top []countedLine) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil
	}
	defer f.Close()
	levels = map[string]int{}
	msgs := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, lv := range []string{"ERROR", "FATAL", "PANIC", "WARNING", "LOG"} {
			_, msg, ok := strings.Cut(line, " "+lv+":  ")
			if !ok {
				continue
			}
			levels[lv]++
			if lv == "ERROR" || lv == "FATAL" || lv == "PANIC" {
				msgs[lv+": "+msg]++
			}
			if strings.HasPrefix(msg, "could not serialize access") {
				serialization++
			}
			break
		}
	}
	return levels, serialization, topLines(msgs, 6)
}

// countedLine is a message and how often it occurred.
type countedLine struct {
	text string
	n    int
}

// topLines is the n most frequent messages, most frequent first (ties by text).
func topLines(m map[string]int, n int) []countedLine {
	out := make([]countedLine, 0, len(m))
	for k, v := range m {
		out = append(out, countedLine{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].text < out[j].text
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
