import Foundation
import S4ADomain
import SQLKit

/// Versioned schema changes, applied in order at start; each runs once, in its own transaction.
/// Never edit a shipped migration: add the next one. Types are the subset both engines share.
enum Migrations {
    static let all: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX sessions_account ON sessions(account_id)",
            """
            CREATE TABLE login_failures (
                key TEXT NOT NULL,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX login_failures_key_at ON login_failures(key, at)",
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                parent_key_id TEXT,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                prefix TEXT NOT NULL,
                scopes TEXT NOT NULL,
                project_ids TEXT,
                expires_at BIGINT,
                max_server_budget_micros BIGINT,
                created_at BIGINT NOT NULL,
                last_used_at BIGINT,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX api_keys_account_created ON api_keys(account_id, created_at)",
            """
            CREATE TABLE projects (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                slug TEXT NOT NULL UNIQUE,
                visibility TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX projects_account_created ON projects(account_id, created_at)",
            """
            CREATE TABLE activity_events (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                at BIGINT NOT NULL,
                actor_type TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                action TEXT NOT NULL,
                target_type TEXT NOT NULL,
                target_id TEXT NOT NULL,
                project_id TEXT,
                metadata TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL,
                UNIQUE (account_id, seq)
            )
            """,
            "CREATE INDEX activity_project ON activity_events(account_id, project_id, seq)",
            """
            CREATE TABLE idempotency_records (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                fingerprint TEXT NOT NULL,
                status INTEGER,
                content_type TEXT,
                sealed_body TEXT,
                created_at BIGINT NOT NULL
            )
            """,
        ]),
        (2, [
            """
            CREATE TABLE servers (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                template TEXT NOT NULL,
                cpu_millis INTEGER NOT NULL,
                memory_mb INTEGER NOT NULL,
                disk_mb INTEGER NOT NULL,
                pids_limit INTEGER NOT NULL,
                budget_micros BIGINT NOT NULL,
                network TEXT NOT NULL,
                state TEXT NOT NULL,
                uid_slot INTEGER UNIQUE,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX servers_account_created ON servers(account_id, created_at)",
            "CREATE INDEX servers_state ON servers(state)",
            """
            CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                command TEXT NOT NULL,
                state TEXT NOT NULL,
                exit_code INTEGER,
                stdout TEXT NOT NULL,
                stderr TEXT NOT NULL,
                truncated INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                finished_at BIGINT
            )
            """,
            "CREATE INDEX runs_server_started ON runs(server_id, started_at)",
            "CREATE INDEX runs_state ON runs(state)",
        ]),
        // The vault: the master key's fingerprint (never the key), each project's wrapped data
        // key, and sealed secrets. `server_id` is '' for project scope, so one unique index
        // covers both scopes.
        (3, [
            "CREATE TABLE vault_meta (id INTEGER PRIMARY KEY, kek_fingerprint TEXT NOT NULL)",
            """
            CREATE TABLE project_keys (
                project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
                wrapped_key TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE secrets (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                server_id TEXT NOT NULL,
                name TEXT NOT NULL,
                version INTEGER NOT NULL,
                sealed TEXT NOT NULL,
                value_bytes INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE (project_id, server_id, name)
            )
            """,
        ]),
        // Budgets: prepaid leases and the append-only ledger of money they move.
        (4, [
            """
            CREATE TABLE leases (
                id TEXT PRIMARY KEY,
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                started_at BIGINT NOT NULL,
                deadline BIGINT NOT NULL,
                reserved_micros BIGINT NOT NULL,
                settled_at BIGINT
            )
            """,
            "CREATE INDEX leases_open ON leases(server_id, settled_at)",
            """
            CREATE TABLE ledger_entries (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                lease_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                amount_micros BIGINT NOT NULL CHECK (amount_micros >= 0),
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ledger_server ON ledger_entries(server_id)",
            "CREATE INDEX ledger_account ON ledger_entries(account_id)",
            "CREATE UNIQUE INDEX ledger_one_settlement ON ledger_entries(lease_id, kind)",
        ]),
        // Account spending limits, usage samples, each run's CPU time, and the anonymous daily
        // aggregates that outlive the samples.
        (5, [
            "ALTER TABLE accounts ADD COLUMN spending_limit_micros BIGINT",
            "ALTER TABLE runs ADD COLUMN cpu_micros BIGINT",
            "ALTER TABLE leases ADD COLUMN egress_counter BIGINT",
            """
            CREATE TABLE usage_samples (
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                sampled_at BIGINT NOT NULL,
                cpu_micros BIGINT NOT NULL,
                memory_bytes BIGINT NOT NULL,
                pids INTEGER NOT NULL,
                disk_bytes BIGINT NOT NULL,
                net_rx_bytes BIGINT NOT NULL,
                net_tx_bytes BIGINT NOT NULL,
                charged_micros BIGINT NOT NULL,
                PRIMARY KEY (server_id, sampled_at)
            )
            """,
            "CREATE INDEX usage_samples_account ON usage_samples(account_id, sampled_at)",
            "CREATE INDEX usage_samples_time ON usage_samples(sampled_at)",
            """
            CREATE TABLE usage_daily (
                day TEXT PRIMARY KEY,
                servers INTEGER NOT NULL,
                samples BIGINT NOT NULL,
                cpu_micros BIGINT NOT NULL,
                max_memory_bytes BIGINT NOT NULL,
                log_lines BIGINT NOT NULL
            )
            """,
        ]),
        // Deployments (the app a server serves) and the server behind each project's URL.
        (6, [
            """
            CREATE TABLE deployments (
                id TEXT PRIMARY KEY,
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                command TEXT NOT NULL,
                port INTEGER NOT NULL,
                health_path TEXT,
                restart TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                replaced_at BIGINT
            )
            """,
            "CREATE INDEX deployments_server ON deployments(server_id, replaced_at)",
            "ALTER TABLE projects ADD COLUMN attached_server_id TEXT",
        ]),
        // Health: every probe of a deployed app (kept as long as usage samples) and incidents.
        (7, [
            """
            CREATE TABLE health_probes (
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                deployment_id TEXT NOT NULL,
                probed_at BIGINT NOT NULL,
                healthy INTEGER NOT NULL,
                milliseconds INTEGER NOT NULL,
                detail TEXT NOT NULL
            )
            """,
            "CREATE INDEX health_probes_project ON health_probes(project_id, probed_at)",
            "CREATE INDEX health_probes_time ON health_probes(probed_at)",
            """
            CREATE TABLE incidents (
                id TEXT PRIMARY KEY,
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                started_at BIGINT NOT NULL,
                ended_at BIGINT,
                reason TEXT NOT NULL
            )
            """,
            "CREATE INDEX incidents_project ON incidents(project_id, started_at)",
            "CREATE INDEX incidents_open ON incidents(server_id, ended_at)",
            // The metering loop reads every open lease each second: only those, not all ever made.
            "CREATE INDEX leases_unsettled ON leases(server_id, deadline) WHERE settled_at IS NULL",
        ]),
        // Log drains: where each sends, its secret sealed under the project's data key, and how
        // far delivery got (resumed from here after a restart).
        (8, [
            """
            CREATE TABLE log_drains (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                kinds TEXT NOT NULL,
                sealed_secret TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                record_seq BIGINT NOT NULL,
                activity_seq BIGINT NOT NULL,
                logs_after BIGINT NOT NULL,
                log_marks TEXT NOT NULL,
                delivered BIGINT NOT NULL,
                dropped BIGINT NOT NULL,
                last_success_at BIGINT,
                last_error TEXT,
                last_error_at BIGINT
            )
            """,
            "CREATE INDEX log_drains_project ON log_drains(project_id, created_at)",
        ]),
        // Crypto-shredding and export (9): each data key's wrap version (2: also bound to a
        // per-project key kept outside the database), accounts being deleted (a restart finishes
        // the job), and one-time export download links (only the token's hash).
        (9, [
            "ALTER TABLE project_keys ADD COLUMN wrap_version INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE accounts ADD COLUMN deleting_at BIGINT",
            """
            CREATE TABLE exports (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                token_hash TEXT NOT NULL UNIQUE,
                include_files INTEGER NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX exports_account ON exports(account_id)",
        ]),
        // Which control plane delivers each log drain, until when: replicas sharing PostgreSQL
        // deliver a drain once, and take over a stopped one's drains when its claims lapse.
        (10, [
            "ALTER TABLE log_drains ADD COLUMN claimed_by TEXT",
            "ALTER TABLE log_drains ADD COLUMN claimed_until BIGINT",
        ]),
        // Each activity event's MAC under a key derived from the master key (`AuditKeys`); the
        // events already there get theirs in the same transaction (`sealExistingEvents`).
        (11, [
            "ALTER TABLE activity_events ADD COLUMN mac TEXT",
        ]),
        // Sign-in attempts are recorded before the password is checked (a slot reserved under
        // the throttle's lock), so the row of an attempt that turns out right must be findable.
        (12, [
            "ALTER TABLE login_failures ADD COLUMN attempt_id TEXT",
            "CREATE INDEX login_failures_attempt ON login_failures(attempt_id)",
        ]),
        // Why a run ended (exit, timeout, oom, budget, signal, cancelled) and what to do about it.
        (13, [
            "ALTER TABLE runs ADD COLUMN ended_by TEXT",
            "ALTER TABLE runs ADD COLUMN hint TEXT",
        ]),
        // A deployment's state and restarts: the monitor's restarts are counted, a crash loop
        // is one incident that is updated, and the newest probe of a deployment is found fast.
        (14, [
            "ALTER TABLE deployments ADD COLUMN monitor_restarts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE incidents ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE incidents ADD COLUMN last_exit_code INTEGER",
            "ALTER TABLE incidents ADD COLUMN updated_at BIGINT",
            "CREATE INDEX health_probes_deployment ON health_probes(deployment_id, probed_at)",
        ]),
        // Keys bound what their servers may cost together and how many there are; a server
        // remembers the key that created it.
        (15, [
            "ALTER TABLE api_keys ADD COLUMN max_total_budget_micros BIGINT",
            "ALTER TABLE api_keys ADD COLUMN max_servers INTEGER",
            "ALTER TABLE servers ADD COLUMN created_by_key_id TEXT",
            "CREATE INDEX servers_created_by_key ON servers(created_by_key_id)",
        ]),
    ]

    /// Steps that need the master key's audit keys, run after their migration's statements in
    /// the same transaction.
    static let keyed: [Int: @Sendable (any SQLDatabase, AuditKeys) async throws -> Void] = [
        11: { db, keys in try await sealExistingEvents(db, keys) },
    ]

    /// Gives every event its MAC. Until now nothing was keyed: this vouches for the chains as
    /// they stand at this migration (their hash links are all anyone could check before). Only
    /// under the key the vault was sealed with, so a start with a wrong key seals nothing.
    static func sealExistingEvents(_ db: any SQLDatabase, _ keys: AuditKeys) async throws {
        let vault = try await db.raw("SELECT kek_fingerprint FROM vault_meta WHERE id = 1").first()
            .map { try $0.decode(column: "kek_fingerprint", as: String.self) }
        if let vault, vault != keys.masterFingerprint {
            throw DomainError(.forbidden, """
                The master key (fingerprint \(keys.masterFingerprint)) is not the one this data is sealed with \
                (fingerprint \(vault)). Start with the right --master-key-file or S4A_MASTER_KEY.
                """)
        }
        let rows = try await db.raw("SELECT id, hash FROM activity_events WHERE mac IS NULL").all()
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            let mac = keys.mac(hash: try row.decode(column: "hash", as: String.self))
            try await db.raw("UPDATE activity_events SET mac = \(bind: mac) WHERE id = \(bind: id)").run()
        }
    }

    static func run(on engine: any SQLEngine, keys: AuditKeys) async throws {
        for migration in all {
            try await engine.transaction { db in
                if engine.kind == .postgres {
                    // Replicas starting together take turns.
                    try await db.raw("SELECT pg_advisory_xact_lock(4242)").run()
                }
                try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
                let applied = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)").first()
                guard applied == nil else { return }
                for statement in migration.statements { try await db.raw("\(unsafeRaw: statement)").run() }
                try await keyed[migration.version]?(db, keys)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: migration.version), \(bind: now))").run()
            }
        }
    }
}
