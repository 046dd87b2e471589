/// The PostgreSQL layout, versioned in `jobsd_schema`: migration N (1-based) brings a database
/// from version N-1 to N. Append new migrations; never edit a released one.
///
/// Several nodes may start at once: `prepare` migrates in one transaction holding a
/// transaction-scoped advisory lock, so one node migrates and the others wait for it, then find
/// the schema current. DDL is transactional in PostgreSQL: a failed migration leaves nothing.
enum PostgresSchema {
    /// Transaction-scoped advisory locks of one jobsd schema. The key is the pair (hash of the
    /// schema's name, purpose), so clusters in different schemas of one database never wait for
    /// each other's migrations or claims.
    enum AdvisoryLock: Int32 {
        /// Held while migrating.
        case migration = 1
        /// Held by a claim (`claimQueued`): claims of all nodes are serialised.
        case claim = 2

        /// Takes the lock on `connection` (inside its transaction) until the transaction ends,
        /// waiting for its holder.
        func take(on connection: PostgresConnection) throws {
            _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '')), $1::integer)", [Int(rawValue)])
        }
    }

    static let migrations: [String] = [
        // 1: jobs, one row per job, columns as in SQLite's schema 3 (StoredJob), with labels as
        // jsonb for containment filters (`labels @> '{"team":"data"}'`) through a GIN index.
        """
        CREATE TABLE jobs (
            id text COLLATE "C" PRIMARY KEY,
            state text NOT NULL,
            name text,
            labels jsonb NOT NULL,
            command text NOT NULL,
            created_at bigint NOT NULL,
            started_at bigint,
            finished_at bigint,
            timeout_seconds double precision NOT NULL,
            grace_seconds double precision NOT NULL,
            cancel_requested_at bigint,
            pid integer,
            exit_code integer,
            signal text,
            error text,
            cleanup_state text NOT NULL,
            cleanup_exit_code integer,
            cleanup_error text,
            log_bytes bigint NOT NULL,
            spec text NOT NULL,
            idempotency_key text,
            request_fingerprint text,
            process_start_ticks bigint,
            owner text
        );
        CREATE INDEX jobs_by_state ON jobs (state, id);
        CREATE INDEX jobs_by_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_by_labels ON jobs USING gin (labels jsonb_path_ops);
        """,
        // 2: several nodes. A claim's fencing token (from one sequence), the flag a rescue sets
        // until the old owner has dealt with the job's processes and cleanup, and the node table
        // (leases: last_seen_at on the database's clock, in milliseconds).
        """
        ALTER TABLE jobs ADD COLUMN fence bigint;
        ALTER TABLE jobs ADD COLUMN rescue_pending boolean NOT NULL DEFAULT false;
        CREATE SEQUENCE jobs_fence;
        CREATE INDEX jobs_claimable ON jobs (id) WHERE state = 'queued' AND owner IS NULL;
        CREATE INDEX jobs_by_owner ON jobs (owner) WHERE state IN ('queued', 'running', 'cancelling') OR rescue_pending;
        CREATE TABLE nodes (
            id text PRIMARY KEY,
            address text NOT NULL,
            started_at bigint NOT NULL,
            last_seen_at bigint NOT NULL,
            running integer NOT NULL,
            max_running integer NOT NULL
        );
        """,
        // 3: job_events (each job's timeline), job_changes (the change log of GET /v1/events; seq
        // handed out under the row lock of store_meta 'changes_last', so in commit order) and
        // store_meta ('changes_swept_through': the highest seq retention removed).
        """
        CREATE TABLE job_events (
            job_id text COLLATE "C" NOT NULL,
            seq integer NOT NULL,
            at bigint NOT NULL,
            type text NOT NULL,
            fields text NOT NULL,
            PRIMARY KEY (job_id, seq)
        );
        CREATE TABLE job_changes (
            seq bigint PRIMARY KEY,
            at bigint NOT NULL,
            job_id text NOT NULL,
            state text NOT NULL,
            labels text NOT NULL,
            job text NOT NULL
        );
        CREATE TABLE store_meta (key text PRIMARY KEY, value bigint NOT NULL);
        INSERT INTO store_meta (key, value) VALUES ('changes_last', 0), ('changes_swept_through', 0);
        """,
        // 4: job_output, the jobs' output in batches (`PostgresJobLogs`), keyed by the logical end
        // of each batch so that reading on from an offset and dropping what the cap passed are
        // index ranges; deleted with its job. `attempt` is 1 until a job can run more than once.
        // And the list order (newest first by `created_at`, then `id`) as an index, also within a
        // state.
        """
        CREATE INDEX jobs_by_created_at ON jobs (created_at, id);
        DROP INDEX jobs_by_state;
        CREATE INDEX jobs_by_state ON jobs (state, created_at, id);
        CREATE TABLE job_output (
            job_id text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            attempt integer NOT NULL,
            off bigint NOT NULL,
            end_off bigint NOT NULL,
            kept_from bigint NOT NULL,
            runs bigint[] NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (job_id, attempt, end_off)
        );
        """,
        // 5: webhook_deliveries, the completion-webhook outbox (one row per job with `notify`,
        // from its terminal write until its delivery is over); a claim (claimed_by, claimed_until
        // on the nodes' clocks) gives a row to one node while it makes an attempt.
        """
        CREATE TABLE webhook_deliveries (
            job_id text COLLATE "C" PRIMARY KEY,
            id text NOT NULL,
            event text NOT NULL,
            url text NOT NULL,
            body text NOT NULL,
            attempts integer NOT NULL,
            next_attempt_at bigint NOT NULL,
            claimed_by text,
            claimed_until bigint
        );
        CREATE INDEX webhook_deliveries_by_due ON webhook_deliveries (next_attempt_at);
        """,
        // 6: orchestration, as SQLite's schema 7: the group a job belongs to, the rest of its
        // orchestration fields as JSON text (StoredOrchestration), and the groups (StoredGroup).
        """
        ALTER TABLE jobs ADD COLUMN group_id text COLLATE "C";
        ALTER TABLE jobs ADD COLUMN orchestration text;
        CREATE INDEX jobs_by_group ON jobs (group_id, id) WHERE group_id IS NOT NULL;
        CREATE TABLE job_groups (
            id text COLLATE "C" PRIMARY KEY,
            name text,
            labels text NOT NULL,
            fail_fast integer NOT NULL,
            state text NOT NULL,
            created_at bigint NOT NULL,
            finished_at bigint,
            cancel_requested_at bigint,
            failed_by text,
            jobs text NOT NULL,
            counts text NOT NULL
        );
        CREATE INDEX job_groups_by_state ON job_groups (state, id);
        """,
        // 7: jobs.log_dropped_bytes, the output a job wrote that its log could not store.
        "ALTER TABLE jobs ADD COLUMN log_dropped_bytes bigint NOT NULL DEFAULT 0;",
        // 8: what a claim checks across nodes (concurrency keys, start times), as columns the
        // database derives from `orchestration` itself (no writer binds them), and the index that
        // finds a key's jobs.
        """
        ALTER TABLE jobs ADD COLUMN concurrency_key text COLLATE "C"
            GENERATED ALWAYS AS (orchestration::jsonb ->> 'concurrency_key') STORED;
        ALTER TABLE jobs ADD COLUMN concurrency_limit integer
            GENERATED ALWAYS AS ((orchestration::jsonb ->> 'concurrency_limit')::integer) STORED;
        ALTER TABLE jobs ADD COLUMN run_at bigint
            GENERATED ALWAYS AS ((orchestration::jsonb ->> 'run_at')::bigint) STORED;
        CREATE INDEX jobs_by_key ON jobs (concurrency_key, state, id) WHERE concurrency_key IS NOT NULL;
        """,
        // 9: schedules, as SQLite's schema 9 (StoredSchedule). Each tick is claimed by one node
        // with `UPDATE … WHERE next_run_at = <the tick>` (PostgresJobStore+Schedules).
        """
        CREATE TABLE schedules (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            cron text NOT NULL,
            timezone text NOT NULL,
            job text NOT NULL,
            overlap text NOT NULL,
            paused integer NOT NULL,
            created_at bigint NOT NULL,
            next_run_at bigint NOT NULL,
            last_run_at bigint,
            last_job_id text
        );
        """,
        // 10: the rescued attempts whose processes and cleanup their old node still has to deal
        // with (one row per attempt: a retried job may be rescued again before the first node
        // returns), instead of a flag on the job that a re-queued job could not keep.
        """
        CREATE TABLE job_rescues (
            job_id text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            attempt integer NOT NULL,
            node text NOT NULL,
            PRIMARY KEY (job_id, attempt)
        );
        CREATE INDEX job_rescues_by_node ON job_rescues (node);
        INSERT INTO job_rescues (job_id, attempt, node)
            SELECT id, coalesce((orchestration::jsonb ->> 'attempt')::integer, 1), owner FROM jobs
            WHERE rescue_pending AND owner IS NOT NULL;
        DROP INDEX jobs_by_owner;
        ALTER TABLE jobs DROP COLUMN rescue_pending;
        CREATE INDEX jobs_by_owner ON jobs (owner) WHERE state IN ('queued', 'running', 'cancelling');
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// Brings the database to `currentVersion` and returns the version it had. Throws
    /// `unsupportedSchema` for a database of a newer jobsd (left untouched).
    static func prepare(_ connection: PostgresConnection) throws -> Int {
        try connection.transaction {
            try AdvisoryLock.migration.take(on: connection)
            try connection.execute("CREATE TABLE IF NOT EXISTS jobsd_schema (version integer NOT NULL)")
            let stored = try connection.query("SELECT version FROM jobsd_schema")
            let found = stored.count > 0 ? Int(stored[0].int64(0) ?? 0) : 0
            guard found <= currentVersion else {
                throw JobStoreError.unsupportedSchema(found: found, supported: currentVersion)
            }
            guard found < currentVersion else { return found }
            for migration in migrations[found...] { try connection.execute(migration) }
            if stored.count == 0 {
                _ = try connection.query("INSERT INTO jobsd_schema (version) VALUES ($1)", [currentVersion])
            } else {
                _ = try connection.query("UPDATE jobsd_schema SET version = $1", [currentVersion])
            }
            return found
        }
    }
}
