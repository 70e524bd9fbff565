import CartographTestSupport
import Foundation
import Testing

/// The PostgreSQL store from a lab network: the scanner's namespace has its own network stack but
/// reaches the server through its socket directory, as scanner agents in other networks will.
extension LabTests {
@Suite("A lab map kept in PostgreSQL")
struct LabPostgresStoreTests {
    @Test("a map run in the scanner namespace with --db postgresql:///DB?host=SOCKETDIR is read back from outside it")
    func mapFromNamespace() throws {
        try Lab.require()
        let server = try PostgresServer.require()
        let db = server.socketURL(try server.createDatabase("lab"))
        let mapped = try Lab.cartograph(["map", Lab.h1, "-p", "22", "-n", "--db", db, "--network", "lab-one", "--format", "json"])
        #expect(mapped.status == 0, "\(mapped.stderr)")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        let maps = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(maps.count == 1 && maps.first?["network"] as? String == "lab-one" && maps.first?["status"] as? String == "complete",
                "\(list.stdout) \(list.stderr)")
        let hosts = try Cartograph.run(["hosts", "--db", db, "--network", "lab-one"])
        #expect(hosts.stdout.contains("lab-one  \(Lab.h1)") && hosts.stdout.contains("22/tcp ssh"), "\(hosts.stdout)")
    }
}
}
