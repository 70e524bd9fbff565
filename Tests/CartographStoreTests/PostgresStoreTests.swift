import CartographCore
@testable import CartographStore
import CartographTestSupport
import Foundation
import Testing

/// What only the PostgreSQL store has: liveness by connection, one schema with SQLite's, URLs,
/// passwords kept out of messages, TLS. On the real server of Scripts/pg.sh.
@Suite("The PostgreSQL store")
struct PostgresStoreTests {
    @Test("a map another store (another scanner's process) is running stays running when a store opens")
    func otherScannersMapStaysRunning() throws {
        let url = try Backend.postgres.fresh()
        let scanner = try PostgresMapStore(url: url)
        let id = try scanner.begin(MapStoreTests.map(), settings: Profile(), network: nil, pid: 999_999)
        let reader = try PostgresMapStore(url: url)
        #expect(try reader.status(id: id) == .running, "its connection still holds the map's lock")
        var done = MapStoreTests.map(hosts: [MapStoreTests.host("198.18.1.2", ports: [(22, "ssh")])])
        done.status = .complete
        try scanner.save(done, id: id)
        scanner.close()
        _ = try PostgresMapStore(url: url)
        #expect(try reader.status(id: id) == .complete, "a finished map is left alone")
    }

    @Test("the schema is SQLite's: the same tables and columns, the same migrations recorded")
    func sameSchemaAsSQLite() throws {
        let url = try Backend.postgres.fresh()
        _ = try MapStores.open(url)
        let path = MapStoreTests.path()
        _ = try MapStores.open(path)
        let sqlite = try MapStoreTests.sqlite(path, """
            print('\\n'.join(sorted(t + '.' + r[1] for (t,) in c.execute("select name from sqlite_master where type = 'table' \
            and name not like 'sqlite%' and name != 'grdb_migrations'") for r in c.execute('pragma table_info(' + t + ')'))))
            """)
        let postgres = try Backend.postgres.sql(url, sqlite: "", postgres: """
            SELECT string_agg(table_name || '.' || column_name, E'\\n' ORDER BY table_name || '.' || column_name)
            FROM information_schema.columns WHERE table_schema = 'public' AND table_name != 'cartograph_migrations'
            """)
        #expect(postgres.split(separator: "\n") == sqlite.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n"))
        #expect(postgres.contains("service.probe_errors") && postgres.contains("host.os_evidence"))
        let migrations = try Backend.postgres.sql(url, sqlite: "", postgres: "SELECT identifier FROM cartograph_migrations ORDER BY identifier")
        #expect(migrations.split(separator: "\n").map(String.init) == MapStores.migrations)
    }

    @Test("a URL's password never reaches a message: the user part and the password parameter are removed")
    func redaction() {
        #expect(PGConnection.redact("postgresql://alice:s3cr%40t@db.example:5433/maps?sslmode=require")
                == "postgresql://alice@db.example:5433/maps?sslmode=require")
        #expect(PGConnection.redact("postgres://bob@h/maps?password=hunter2&sslmode=verify-full&PassWord=x")
                == "postgres://bob@h/maps?sslmode=verify-full")
        #expect(PGConnection.redact("postgresql:///cartograph?host=/run/cartograph-pg") == "postgresql:///cartograph?host=/run/cartograph-pg")
        #expect(PGConnection.redact("postgresql://u:p@h1:1,h2:2/db?password=q") == "postgresql://u@h1:1,h2:2/db")
        #expect(MapStores.isPostgres("PostgreSQL:///x") && MapStores.isPostgres("postgres://h/x") && !MapStores.isPostgres("/var/maps.sqlite"))
    }

    @Test("a database that does not exist, or a wrong password, is refused in one line naming the URL without its password")
    func refusals() throws {
        let server = try PostgresServer.require()
        let missing = server.socketURL("no_such_database")
        #expect {
            _ = try MapStores.open(missing)
        } throws: { error in
            let text = "\(error)"
            return text.contains(missing) && text.contains("does not exist") && !text.contains("\n")
        }
        let wrong = "postgresql://\(server.role):not-the-password@127.0.0.1:\(server.port)/postgres?sslmode=disable"
        #expect {
            _ = try MapStores.open(wrong)
        } throws: { error in
            let text = "\(error)"
            return text.contains("password authentication failed") && !text.contains("not-the-password")
                && text.contains("postgresql://\(server.role)@127.0.0.1:\(server.port)/postgres") && !text.contains("\n")
        }
    }

    @Test("sslmode=require over TCP, with a password: the store's connection is TLS, and maps round-trip")
    func tls() throws {
        let server = try PostgresServer.require()
        let name = try server.createDatabase("tls")
        let url = "postgresql://\(server.role):\(server.rolePassword)@127.0.0.1:\(server.port)/\(name)?sslmode=require"
        let store = try MapStores.open(url)
        #expect(!store.location.contains(server.rolePassword))
        let ssl = try server.psql("""
            SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.datname = '\(name)' AND a.application_name = 'cartograph'
            """, database: "postgres")
        #expect(ssl == "true", "the store's one connection uses TLS: \(ssl)")
        var map = MapStoreTests.map(hosts: [MapStoreTests.host("198.18.1.2", ports: [(443, "https")])])
        let id = try store.begin(map, settings: Profile())
        map.status = .complete
        try store.save(map, id: id)
        #expect(try store.map(id: id)?.hosts.first?.services.first?.tls == true)
        #expect {
            _ = try MapStores.open(server.tcpURL(name, sslmode: "verify-full") + "&sslrootcert=/nonexistent-root.crt")
        } throws: { error in "\(error)".contains("root certificate file") }
    }

    @Test("a connection the server ended is made again, with the running map's lock: the map goes on")
    func reconnect() throws {
        let server = try PostgresServer.require()
        let name = try server.createDatabase("reconnect")
        let store = try MapStores.open(server.socketURL(name))
        var map = MapStoreTests.map(hosts: [MapStoreTests.host("198.18.1.2", ports: [(22, "ssh")])])
        let id = try store.begin(map, settings: Profile())
        let ended = try server.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)'", database: "postgres")
        #expect(ended == "1")
        try store.save(map, id: id)   // a checkpoint after the loss
        let locks = try server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(id) AND granted", database: name)
        #expect(locks == "1", "the map's lock is held again")
        map.status = .complete
        try store.save(map, id: id)
        #expect(try store.map(id: id)?.status == .complete)
    }

    @Test("a role that may only read lists and shows maps; a map it may not mark interrupted becomes a note")
    func readOnlyRole() throws {
        let server = try PostgresServer.require()
        let name = try server.createDatabase("readonly")
        let writer = try PostgresMapStore(url: server.socketURL(name))
        let id = try writer.begin(MapStoreTests.map(), settings: Profile())
        writer.close()   // its process died: the map looks interrupted
        let role = "reader_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        try server.psql("CREATE ROLE \(role) LOGIN", database: "postgres")
        try server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role)", database: name)
        let url = "postgresql:///\(name)?host=\(server.socket)&port=\(server.port)&user=\(role)"
        #expect(throws: StoreError.self, "a writer's open still fails") { _ = try MapStores.open(url) }
        let reader = try MapStores.open(url, readOnly: true)
        #expect(reader.notes.contains { $0.contains("may not mark interrupted maps") }, "\(reader.notes)")
        #expect(try reader.list().map(\.id) == [id])
        #expect(try reader.status(id: id) == .running, "not marked")
    }
}
