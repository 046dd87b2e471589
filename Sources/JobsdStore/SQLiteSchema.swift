import CSQLite

/// The database layout, versioned by `PRAGMA user_version`: migration N (1-based) brings a file
/// from version N-1 to N. Append new migrations; never edit a released one.
enum SQLiteSchema {
    static let migrations: [String] = [
        // 1: jobs (one row per job; spec as JSON) and job_labels (label filter index).
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY NOT NULL,
            state TEXT NOT NULL,
            name TEXT,
            labels TEXT NOT NULL,
            command TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            timeout_seconds REAL NOT NULL,
            grace_seconds REAL NOT NULL,
            cancel_requested_at INTEGER,
            pid INTEGER,
            exit_code INTEGER,
            signal TEXT,
            error TEXT,
            cleanup_state TEXT NOT NULL,
            cleanup_exit_code INTEGER,
            cleanup_error TEXT,
            log_bytes INTEGER NOT NULL,
            spec TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            request_fingerprint TEXT,
            process_start_ticks INTEGER,
            owner TEXT
        ) WITHOUT ROWID;
        CREATE INDEX jobs_by_state ON jobs (state, id);
        CREATE INDEX jobs_by_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE job_labels (
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (job_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX job_labels_by_pair ON job_labels (key, value, job_id);
        """,
        // 2: idempotency keys unique through a partial index, so the many jobs without a key add
        // no index entry (a column UNIQUE indexes NULLs too: one more B-tree insert and one more
        // WAL page per commit). SQLite cannot drop a column constraint: the table is rebuilt.
        """
        CREATE TABLE jobs_v2 (
            id TEXT PRIMARY KEY NOT NULL,
            state TEXT NOT NULL,
            name TEXT,
            labels TEXT NOT NULL,
            command TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            timeout_seconds REAL NOT NULL,
            grace_seconds REAL NOT NULL,
            cancel_requested_at INTEGER,
            pid INTEGER,
            exit_code INTEGER,
            signal TEXT,
            error TEXT,
            cleanup_state TEXT NOT NULL,
            cleanup_exit_code INTEGER,
            cleanup_error TEXT,
            log_bytes INTEGER NOT NULL,
            spec TEXT NOT NULL,
            idempotency_key TEXT,
            request_fingerprint TEXT,
            process_start_ticks INTEGER,
            owner TEXT
        ) WITHOUT ROWID;
        INSERT INTO jobs_v2 SELECT * FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_v2 RENAME TO jobs;
        CREATE INDEX jobs_by_state ON jobs (state, id);
        CREATE INDEX jobs_by_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
        """,
        // 3: jobs.spec holds only what no other column does when the spec agrees with them (see
        // StoredJob.specJSON): a third less per row. Rows written before keep their whole
        // spec and read as before; the version tells an older jobsd that it cannot decode the new
        // rows. No statement.
        "",
        // 4: job_events, each job's termination timeline (seq from 1 per job; fields as JSON);
        // job_changes, the change log of `GET /v1/events` (seq never reused: AUTOINCREMENT), and
        // store_meta for `changes_swept_through` (the highest seq retention removed).
        """
        CREATE TABLE job_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            job_id TEXT NOT NULL,
            state TEXT NOT NULL,
            labels TEXT NOT NULL,
            job TEXT NOT NULL
        );
        CREATE TABLE store_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE job_events (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            type TEXT NOT NULL,
            fields TEXT NOT NULL,
            PRIMARY KEY (job_id, seq)
        ) WITHOUT ROWID;
        """,
        // 5: lists run newest first by `created_at`, then `id` (ids of several nodes interleave):
        // the order as an index, also within a state.
        """
        CREATE INDEX jobs_by_created_at ON jobs (created_at, id);
        DROP INDEX jobs_by_state;
        CREATE INDEX jobs_by_state ON jobs (state, created_at, id);
        """,
        // 6: webhook_deliveries, the completion-webhook outbox (one row per job with `notify`,
        // from its terminal write until its delivery is over); a claim (claimed_by, claimed_until)
        // holds a row while an attempt runs.
        """
        CREATE TABLE webhook_deliveries (
            job_id TEXT PRIMARY KEY NOT NULL,
            id TEXT NOT NULL,
            event TEXT NOT NULL,
            url TEXT NOT NULL,
            body TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            claimed_by TEXT,
            claimed_until INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX webhook_deliveries_by_due ON webhook_deliveries (next_attempt_at);
        """,
        // 7: orchestration (concurrency keys, scheduled starts, retries, groups): the group a job
        // belongs to (indexed: a group's jobs are read together), the rest of a job's
        // orchestration fields as JSON (NULL for the plain jobs most are; see
        // StoredOrchestration), and the groups.
        """
        ALTER TABLE jobs ADD COLUMN group_id TEXT;
        ALTER TABLE jobs ADD COLUMN orchestration TEXT;
        CREATE INDEX jobs_by_group ON jobs (group_id, id) WHERE group_id IS NOT NULL;
        CREATE TABLE job_groups (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT,
            labels TEXT NOT NULL,
            fail_fast INTEGER NOT NULL,
            state TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            finished_at INTEGER,
            cancel_requested_at INTEGER,
            failed_by TEXT,
            jobs TEXT NOT NULL,
            counts TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX job_groups_by_state ON job_groups (state, id);
        """,
        // 8: jobs.log_dropped_bytes, the output a job wrote that its log could not store.
        "ALTER TABLE jobs ADD COLUMN log_dropped_bytes INTEGER NOT NULL DEFAULT 0;",
        // 9: schedules (periodic jobs; layout: StoredSchedule). A run is an ordinary job whose
        // orchestration JSON carries its schedule_id.
        """
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            cron TEXT NOT NULL,
            timezone TEXT NOT NULL,
            job TEXT NOT NULL,
            overlap TEXT NOT NULL,
            paused INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            next_run_at INTEGER NOT NULL,
            last_run_at INTEGER,
            last_job_id TEXT
        ) WITHOUT ROWID;
        """,
        // 10: a label filter lists newest first from the label's own index (the job's
        // `created_at` beside each label row), instead of reading every job with the label and
        // sorting them: a page costs the same with 10^3 or 10^6 jobs stored.
        """
        ALTER TABLE job_labels ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
        UPDATE job_labels SET created_at = (SELECT created_at FROM jobs WHERE jobs.id = job_labels.job_id);
        DROP INDEX job_labels_by_pair;
        CREATE INDEX job_labels_by_pair ON job_labels (key, value, created_at, job_id);
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// Checks the version, sets WAL and `synchronous=FULL`, then brings the file to `currentVersion` in one
    /// transaction. Returns the version the file had. Throws `unsupportedSchema` for a file from a
    /// newer jobsd (left untouched) and `unavailable` for a file that is not a database.
    static func prepare(_ connection: SQLiteConnection) throws -> Int {
        do {
            let found = try version(connection)
            let mode = try connection.withStatement("PRAGMA journal_mode = WAL") { try $0.step() ? $0.string(0) : nil }
            guard mode?.lowercased() == "wal" else {
                throw JobStoreError.unavailable("\(connection.path): cannot use WAL journal mode (got \(mode ?? "nothing"))")
            }
            try connection.execute("PRAGMA synchronous = FULL")
            guard found < currentVersion else { return found }
            try connection.execute("BEGIN IMMEDIATE")
            do {
                let locked = try version(connection)  // another process may have migrated meanwhile
                for migration in migrations[min(locked, currentVersion)...] { try connection.execute(migration) }
                try connection.execute("PRAGMA user_version = \(currentVersion)")
                try connection.execute("COMMIT")
            } catch {
                if !connection.isAutocommit { try? connection.execute("ROLLBACK") }
                throw error
            }
            return found
        } catch let error as SQLiteError where [SQLITE_NOTADB, SQLITE_CORRUPT].contains(error.primaryCode) {
            throw JobStoreError.unavailable("\(connection.path) is not a jobsd database or is corrupt: \(error)")
        } catch let error as SQLiteError {
            throw error.storeError
        }
    }

    /// `PRAGMA user_version`; `unsupportedSchema` when it is newer than this build knows.
    private static func version(_ connection: SQLiteConnection) throws -> Int {
        let found = Int(try connection.integer("PRAGMA user_version"))
        guard found <= currentVersion else {
            throw JobStoreError.unsupportedSchema(found: found, supported: currentVersion)
        }
        return found
    }
}

extension SQLiteConnection {
    /// Sets `PRAGMA user_version` to the value it has: page 1 is written (SQLite rewrites the
    /// header even when the value is unchanged) and nothing else changes. The store's probe write.
    func rewriteUserVersion() throws {
        let version = try integer("PRAGMA user_version")
        try execute("PRAGMA user_version = \(version)")
    }
}
