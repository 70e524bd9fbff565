import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Glibc
import Testing

/// The shipped host classification rules (`Probes/classify/host.lua`) through the Lua runtime,
/// and what happens when a rules file is broken.
@Suite("Classifying hosts")
struct HostClassifierTests {
    static let probes = Cartograph.packageRoot.appendingPathComponent("Probes").path

    static func classifier() throws -> LuaHostClassifier {
        try #require(LuaHostClassifier(library: try ProbeLibrary.load(directories: [probes])),
                     "Probes/classify/host.lua was not found")
    }

    static func host(_ services: [(String, String?)], ttl: Int? = nil, forwards: [String]? = nil,
                     product: String? = nil, os: [String]? = nil) -> HostResult {
        var host = HostResult(address: "198.18.1.2", services: services.enumerated().map { i, pair in
            var service = ServiceResult(port: UInt16(1000 + i), protocol: .tcp, method: pair.0)
            service.name = pair.0
            service.deviceType = pair.1
            service.product = product
            service.os = os
            return service
        })
        host.ttl = ttl
        host.forwards = forwards
        return host
    }

    @Test("device types from what the host runs; probes that name the device come first", arguments: [
        ([("http", nil), ("ssh", nil)], "web server"),
        ([("ssh", nil), ("http", nil), ("smtp", nil), ("imap", nil)], "mail server"),
        ([("dns", nil)], "DNS server"),
        ([("postgresql", nil), ("ssh", nil)], "database server"),
        ([("smb", nil), ("http", nil)], "file server"),
        ([("telnet", nil), ("mqtt", nil)], "IoT/embedded"),
        ([("ssh", nil)], "unknown"),
        ([], "unknown"),
        ([("http", nil), ("snmp", "printer")], "printer"),
        ([("http", nil), ("snmp", "a toaster")], "web server"),
    ] as [([(String, String?)], String)])
    func deviceTypes(services: [(String, String?)], expected: String) throws {
        var warnings: [String] = []
        let found = try Self.classifier().classify([Self.host(services)], warnings: &warnings)
        #expect(warnings.isEmpty, "\(warnings)")
        let result = try #require(found.first ?? nil)
        #expect(result.deviceType.rawValue == expected)
        if expected == "unknown" {
            #expect(result.deviceTypeConfidence == 0)
        } else {
            #expect(result.deviceTypeConfidence > 0 && !result.deviceTypeEvidence.isEmpty)
        }
    }

    @Test("a host that forwarded probes is a router, whatever else it runs, and the evidence says towards what")
    func router() throws {
        var warnings: [String] = []
        let host = Self.host([("http", nil), ("ssh", nil)], ttl: 64, forwards: ["198.18.1.2", "198.18.2.2"])
        let result = try #require(try Self.classifier().classify([host], warnings: &warnings).first ?? nil)
        #expect(result.deviceType == .router)
        #expect(result.deviceTypeEvidence.first?.contains("forwarded probes towards 198.18.1.2, 198.18.2.2") == true)
        #expect(result.deviceTypeConfidence >= 50)
    }

    @Test("an adjacent address off our link is an interface of a neighbouring router")
    func neighbour() throws {
        var warnings: [String] = []
        let host = Self.host([("ssh", nil)], ttl: 64)
        let found = try Self.classifier().classify([host], neighbours: [host.address], warnings: &warnings)
        let result = try #require(found.first ?? nil)
        #expect(result.deviceType == .router && result.deviceTypeEvidence.first?.contains("neighbouring router") == true)
        let plain = try #require(try Self.classifier().classify([host], neighbours: [], warnings: &warnings).first ?? nil)
        #expect(plain.deviceType == .unknown, "the same host on our own link is not called a router")
    }

    @Test("OS families from banners and from the TTL's initial value", arguments: [
        (63, nil, nil, "Linux"),
        (127, nil, nil, "Windows"),
        (250, nil, nil, "Cisco IOS"),
        (127, "OpenSSH", ["Debian"], "Linux"),
        (nil, "Microsoft IIS httpd", nil, "Windows"),
        (nil, nil, nil, nil),
    ] as [(Int?, String?, [String]?, String?)])
    func osFamilies(ttl: Int?, product: String?, os: [String]?, expected: String?) throws {
        var warnings: [String] = []
        let host = Self.host([("ssh", nil)], ttl: ttl, product: product, os: os)
        let result = try #require(try Self.classifier().classify([host], warnings: &warnings).first ?? nil)
        #expect(result.os == expected)
        if expected != nil { #expect(!result.osEvidence.isEmpty && result.osConfidence > 0) }
    }

    static func rules(_ source: String) throws -> LuaHostClassifier {
        let dir = Cartograph.scratch.appendingPathComponent("rules-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("classify"), withIntermediateDirectories: true)
        try source.write(to: dir.appendingPathComponent("classify/host.lua"), atomically: true, encoding: .utf8)
        return try #require(LuaHostClassifier(library: try ProbeLibrary.load(directories: [probes, dir.path])))
    }

    @Test("broken rules are a warning with file:line, never a crash or a hang", arguments: [
        ("return function(host) return {device_type = {type = 'spaceship'}} end", "is not one of"),
        ("return function(host) error('no idea') end", "host.lua:1: no idea"),
        ("return function(host) while true do end end", "instruction"),
        ("return function(host) local t = {} while true do t[#t + 1] = string.rep('x', 1000) end end", "memory"),
        ("return 42", "must return a function"),
        ("return function(host)\n  return {device_type = \n end", "host.lua:3:"),
        // The rules run in the probes' sandbox: no load, no finalizers, no escape through pcall.
        ("return function(host) return load('return 1')() end", "nil value"),
        ("return function(host) setmetatable({}, { __gc = function() while true do end end }) end", "__gc finalizers are not allowed"),
        ("return function(host) while true do pcall(function() while true do end end) end end", "instruction budget exhausted"),
    ])
    func brokenRules(source: String, message: String) throws {
        var warnings: [String] = []
        let found = try Self.rules(source).classify([Self.host([("http", nil)])], warnings: &warnings)
        #expect(found.count == 1 && found[0] == nil)
        #expect(warnings.contains { $0.contains(message) }, "\(warnings)")
    }
}

/// The worker process a map starts ahead for its classification (`LuaHostClassifier.prepare`).
@Suite("Classifying hosts with a worker started ahead")
struct SpareClassifierTests {
    @Test("a prepared worker classifies as a fresh one does, and is used by the first call only")
    func preparedWorker() throws {
        let classifier = try HostClassifierTests.classifier()
        let hosts = [HostClassifierTests.host([("http", nil), ("ssh", nil)]), HostClassifierTests.host([("dns", nil)])]
        var warnings: [String] = []
        let fresh = classifier.classify(hosts, warnings: &warnings)
        classifier.prepare()
        let prepared = classifier.classify(hosts, warnings: &warnings)
        // The spare was taken: a second call starts its own worker, with the same answers.
        let again = classifier.classify(hosts, warnings: &warnings)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(fresh.map { $0?.deviceType.rawValue } == ["web server", "DNS server"])
        #expect(prepared.map { $0?.deviceType.rawValue } == fresh.map { $0?.deviceType.rawValue })
        #expect(again.map { $0?.deviceType.rawValue } == fresh.map { $0?.deviceType.rawValue })
        #expect(try classifier.spare.take() == nil)
    }

    @Test("a prepared worker no call took is killed and reaped on release")
    func releasedWorker() throws {
        let classifier = try HostClassifierTests.classifier()
        classifier.prepare()
        classifier.prepare()   // one is starting: no second
        let process = try #require(try classifier.spare.take())
        #expect(try classifier.spare.take() == nil)
        #expect(kill(process.pid, 0) == 0, "the prepared worker is running")
        // Put back by preparing with it, then released: it must end.
        classifier.spare.prepare { process }
        classifier.release()
        #expect(try classifier.spare.take() == nil)
        let ended = Poll.until(tries: 100) { kill(process.pid, 0) != 0 }
        #expect(ended, "worker \(process.pid) still runs after release")
    }
}
