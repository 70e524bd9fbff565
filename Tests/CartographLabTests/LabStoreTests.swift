import CartographTestSupport
import Foundation
import Testing

/// The store against the lab: a map, a change to the lab's services and hosts, a second map and
/// their diff; nmap-XML read by xmllint and ndiff; the HTML map rendered by Chromium; two lab
/// networks that reuse the same addresses kept apart.
extension LabTests {
@Suite("Storing and comparing lab maps")
struct LabStoreTests {
    /// Runs a command to completion (a lab tool, a checker); returns status and output.
    @discardableResult
    static func tool(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// A listener inside a lab namespace for the length of a test: Python's http.server, or a
    /// server that greets with `banner`.
    static func service(in namespace: String, address: String, port: Int, banner: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        let code: String
        if let banner {
            code = """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('\(address)', \(port))); s.listen(16)
            while True:
                c, _ = s.accept(); c.sendall(\(banner.debugDescription).encode()); c.close()
            """
        } else {
            code = "import http.server as h; h.ThreadingHTTPServer(('\(address)', \(port)), h.SimpleHTTPRequestHandler).serve_forever()"
        }
        process.arguments = ["netns", "exec", namespace, "/usr/bin/python3", "-c", code]
        // http.server lists its working directory: an empty one of the test's own.
        let root = Cartograph.scratch.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        process.currentDirectoryURL = root
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts a connection from the scanner.
        for _ in 0..<100 {
            let (status, _) = try tool(["/usr/sbin/ip", "netns", "exec", Lab.scanner, "/usr/bin/timeout", "1", "/bin/bash", "-c",
                                        "exec 3<>/dev/tcp/\(address)/\(port)"])
            if status == 0 { return process }
            usleep(100_000)
        }
        Issue.record("the test service on \(address):\(port) in \(namespace) never answered")
        return process
    }

    static func farmAddress(_ address: String, add: Bool) throws {
        try tool(["/usr/sbin/ip", "netns", "exec", "cg-farm", "/usr/sbin/ip", "addr", add ? "add" : "del", "\(address)/32", "dev", "lo"])
    }

    @Test("map, change the lab, map again: the diff names every change; XML validates, ndiff reads it, Chromium renders the HTML")
    func changeAndCompare() throws {
        try Lab.require()
        let db = Cartograph.freshStore()
        let dir = Cartograph.scratch.appendingPathComponent("lab-store")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let (vanishing, appearing) = ("198.19.200.1", "198.19.200.2")
        let map = ["map", Lab.h2, vanishing, appearing, "-p", "22,2222,6379,7777,8080,9901,9902", "-n", "--db", db]

        var services = [try Self.service(in: "cg-h2", address: Lab.h2, port: 9901)]
        try Self.farmAddress(vanishing, add: true)
        defer {
            for process in services { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            try? Self.farmAddress(vanishing, add: false)
            try? Self.farmAddress(appearing, add: false)
        }
        let first = try Lab.cartograph(map)
        #expect(first.status == 0, "\(first.stderr)")

        // The change: 9901 now speaks SSH, 9902 opens, one host goes away and another appears.
        kill(services[0].processIdentifier, SIGKILL)
        services[0].waitUntilExit()
        services = [try Self.service(in: "cg-h2", address: Lab.h2, port: 9901, banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
                    try Self.service(in: "cg-h2", address: Lab.h2, port: 9902)]
        try Self.farmAddress(vanishing, add: false)
        try Self.farmAddress(appearing, add: true)
        let second = try Lab.cartograph(map)
        #expect(second.status == 0, "\(second.stderr)")

        let diff = try Cartograph.run(["maps", "diff", "--db", db])
        #expect(diff.status == 0, "\(diff.stderr)")
        let expected = [
            "- host \(vanishing): vanished",
            "+ host \(appearing): new (no open ports) [first seen in this network]",
            "~ \(Lab.h2) 9901/tcp: http SimpleHTTP",
            "→ ssh OpenSSH 9.2p1",
            "+ \(Lab.h2) 9902/tcp: opened, http SimpleHTTP",
        ]
        for line in expected { #expect(diff.stdout.contains(line), "missing \"\(line)\" in:\n\(diff.stdout)") }
        for port in [2222, 6379, 7777, 8080] { #expect(!diff.stdout.contains(" \(port)/tcp"), "unchanged port \(port) listed:\n\(diff.stdout)") }

        // nmap XML: valid against nmap's own DTD, and ndiff sees the same changes.
        var files: [String] = []
        for id in ["1", "2"] {
            let file = dir.appendingPathComponent("map-\(id).xml").path
            let report = try Cartograph.run(["maps", "report", id, "--db", db, "--format", "xml", "-o", file])
            #expect(report.status == 0, "\(report.stderr)")
            let (valid, errors) = try Self.tool(["/usr/bin/xmllint", "--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", file])
            #expect(valid == 0, "map \(id)'s XML does not validate against nmap.dtd:\n\(errors)")
            files.append(file)
        }
        let (ndiffStatus, ndiff) = try Self.tool(["/usr/bin/ndiff", files[0], files[1]])
        #expect(ndiffStatus == 1, "ndiff exits 1 when the scans differ: \(ndiff)")
        #expect(ndiff.contains("9902/tcp") && ndiff.contains(appearing) && ndiff.contains(vanishing), "\(ndiff)")

        // The HTML map, rendered by a real browser: its script ran and counted the hosts.
        let html = dir.appendingPathComponent("map.html").path
        #expect(try Cartograph.run(["maps", "report", "--db", db, "--format", "html", "-o", html]).status == 0)
        let (chromium, dom) = try Self.tool(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                             "--dump-dom", "file://\(html)"])
        #expect(chromium == 0, "\(dom.suffix(500))")
        #expect(dom.contains("data-rendered=\"3\""), "h2, the new farm host and the router on the way: \(dom.prefix(300))")
        #expect(dom.contains("9901") && dom.contains(appearing))
    }

    @Test("two lab networks reusing the same addresses stay two sets of hosts")
    func overlappingNetworks() throws {
        try Lab.require()
        let db = Cartograph.freshStore()
        let map = ["map", Lab.h1, "-p", "22,80,6380", "-n", "--db", db, "--format", "json"]
        let home = try Cartograph.run(map + ["--network", "default"], namespace: Lab.scanner)
        #expect(home.status == 0, "\(home.stderr)")
        let branch = try Cartograph.run(map + ["--network", "branch"], namespace: "cg-bscan")
        #expect(branch.status == 0, "\(branch.stderr)")

        let all = try Cartograph.run(["hosts", "--db", db, "--format", "json"])
        let states = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        let seen = states.map { state -> String in
            let host = state["host"] as? [String: Any] ?? [:]
            let ports = (host["services"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int }
            return "\(state["network"] as? String ?? "?") \(host["address"] as? String ?? "?") \(ports) new=\(host["new"] as? Bool ?? false)"
        }
        // The default network's router is found on the way to h1; the branch is one link.
        #expect(seen == ["branch \(Lab.h1) [6380] new=true", "default 198.18.0.1 [] new=true",
                         "default \(Lab.h1) [22, 80] new=true"], "\(seen)")

        let text = try Cartograph.run(["hosts", "--db", db, "--network", "branch"])
        #expect(text.stdout.contains("branch   \(Lab.h1)") && text.stdout.contains("6380/tcp redis"), "\(text.stdout)")
        #expect(!text.stdout.contains("default"), "\(text.stdout)")

        // A second map of the default network compares with the first one there, not with the branch.
        let again = try Cartograph.run(map + ["--network", "default"], namespace: Lab.scanner)
        #expect(again.status == 0)
        let diff = try Cartograph.run(["maps", "diff", "--db", db])
        #expect(diff.stdout.contains("map 1 → map 3") && diff.stdout.hasSuffix("no changes\n"), "\(diff.stdout)")
        // Reports of one network, or of all with each map's network.
        let branchReport = try Cartograph.run(["maps", "report", "--db", db, "--network", "branch", "--format", "csv"])
        let rows = branchReport.stdout.split(separator: "\r\n").dropFirst()
        #expect(rows.count == 1 && rows.allSatisfy { $0.hasPrefix("2,branch,") && $0.contains(",6380,tcp,") }, "\(branchReport.stdout)")
        let allReport = try Cartograph.run(["maps", "report", "--db", db, "--network", "all", "--format", "json"])
        let reported = (try JSONSerialization.jsonObject(with: Data(allReport.stdout.utf8)) as? [String: Any])?["maps"] as? [[String: Any]]
        #expect(reported?.map { "\($0["id"] ?? "?") \($0["network"] ?? "?")" } == ["2 branch", "3 default"], "the latest map of each target and network")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--network", "branch", "--format", "json"])
        #expect((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])?.count == 1)
    }
}
}
