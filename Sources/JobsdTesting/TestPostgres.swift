import Foundation
import JobsdCore

/// The throwaway PostgreSQL server of the test run. scripts/with-postgres.sh starts it and exports
/// its URL in `JOBSD_TEST_POSTGRES_URL`; scripts/test.sh always runs the tests through it, so the
/// PostgreSQL tests never skip: without the variable they fail, saying how to run them.
public enum TestPostgres {
    /// The server's URL (`postgres://postgres@127.0.0.1:PORT/postgres`).
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["JOBSD_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw TestHarnessError(
                "JOBSD_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh "
                    + "(or scripts/with-postgres.sh swift test …), which starts a throwaway PostgreSQL")
        }
        return url
    }

    /// Creates a new empty schema and returns the server's URL with it as the only `search_path`:
    /// an empty database of its own for one store or one cluster of nodes under test.
    public static func freshDatabaseURL() async throws -> String {
        let url = try serverURL()
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await psql(url, "CREATE SCHEMA \(schema)")
        return url + (url.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
    }

    /// Runs `sql` with psql against `url`; throws when psql fails.
    public static func psql(_ url: String, _ sql: String) async throws {
        let child = try ChildProcess.spawn(argv: ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        let status = await child.wait()
        guard status.exitCode == 0 else { throw TestHarnessError("psql \(sql): \(status)") }
    }

    /// Whether the SQL boolean `condition` holds in `url`'s database (psql evaluates it).
    public static func holds(_ url: String, _ condition: String) async throws -> Bool {
        let sql = "DO $$ BEGIN IF NOT (\(condition)) THEN RAISE EXCEPTION 'false'; END IF; END $$"
        let child = try ChildProcess.spawn(argv: ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        return await child.wait().exitCode == 0
    }
}
