@testable import CartographCore
import Testing

@Suite("nmap and naabu habits on the command line")
struct CommandLineHabitsTests {
    static func rewritten(_ line: String) -> [String]? {
        let words = line.split(separator: " ").map(String.init)
        guard case .arguments(let out) = CommandLineHabits.rewrite(words) else { return nil }
        return out
    }

    static func refusal(_ line: String) -> String? {
        let words = line.split(separator: " ").map(String.init)
        guard case .refused(let text) = CommandLineHabits.rewrite(words) else { return nil }
        return text
    }

    @Test("nmap forms become Cartograph's flags", arguments: [
        ("map -oX out.xml H", "map --format xml -o out.xml H"),
        ("map -oN out.txt H", "map --format text -o out.txt H"),
        ("map -oJ - H", "map --format json -o - H"),
        ("map -T4 H", "map --timing 4 H"),
        ("map -T0 H", "map --timing 0 H"),
        ("map -Tinsane H", "map --timing 5 H"),
        ("map -T 2 H", "map --timing 2 H"),
        ("map --top-ports 50 H", "map H -p top:50"),
        ("map --top-ports=50 H", "map H -p top:50"),
        ("map -sS H", "map --engine syn H"),
        ("map -sT H", "map --engine connect H"),
        ("map -sV H", "map H"),
        ("map -sn H", "map --no-port-scan H"),
        ("map -Pn H", "map --no-sweep H"),
        ("map -v H", "map --verbose H"),
        ("map -dd H", "map --verbose H"),
        ("map -p- H", "map H -p -"),
        ("map -p22,80 H", "map H -p 22,80"),
        ("map -p ssh,http H", "map H -p ssh,http"),
        // -sU: unqualified ports are UDP; with -sS too, they count for both protocols.
        ("map -sU -p 53,161 H", "map H -p U:53,161"),
        ("map -sU H", "map H -p U:top:1000"),
        ("map -sS -sU -p 53 H", "map --engine syn H -p T:53,U:53"),
        ("map -sU --top-ports 20 H", "map H -p U:top:20"),
        ("map -sU -p T:22,U:53 H", "map H -p T:22,U:53"),
        // A flag first means the map command, as `nmap -p 22 HOST` would.
        ("-p 22 H", "map H -p 22"),
        ("-sV -T4 H", "map --timing 4 H"),
        // Values are never read as flags.
        ("map --title -oX H", "map --title -oX H"),
        ("map -iL - --exclude 10.0.0.1", "map -iL - --exclude 10.0.0.1"),
        ("map --rate=-5 H", "map --rate=-5 H"),
        ("map H -- -sV", "map H -- -sV"),
        ("maps report -o -", "maps report -o -"),
        ("--help", "--help"),
        ("-V", "--version"),
        ("map -A -O -6 -sC --traceroute H", "map H"),
        ("map -F H", "map H -p top:100"),
        ("map -sP H", "map --no-port-scan H"),
        ("map --excludefile x.txt --max-rate 50 H", "map --exclude-file x.txt --rate 50 H"),
        ("--version", "--version"),
        ("probes test ssh 127.0.0.1:22 --timeout -5", "probes test ssh 127.0.0.1:22 --timeout -5"),
    ])
    func accepted(line: String, expected: String) {
        #expect(Self.rewritten(line) == expected.split(separator: " ").map(String.init), "\(line)")
    }

    @Test("words that are not ours get one line naming ours, never the help", arguments: [
        ("-host 10.0.0.1", "-host is not an option here; give targets as arguments"),
        ("map -host 10.0.0.1", "-host is not an option here"),
        ("map -list hosts.txt", "-iL FILE"),
        ("map -json H", "--format jsonl"),
        ("map -silent H", "--progress none"),
        ("map -oA base H", "use -oX base.xml, then cartograph maps report latest --format text -o base.txt"),
        ("map -oG out H", "--format csv"),
        ("map -T7 H", "-T0 to -T5"),
        ("map -T fast H", "-T0 to -T5"),
        ("map -sW H", "unknown scan type; use -sS"),
        ("map -oQ f H", "unknown output form"),
        ("map -frobnicate H", "two dashes: --frobnicate); see cartograph map --help"),
        ("maps list -json", "two dashes: --json); see cartograph maps list --help"),
        ("map --top-ports x H", "--top-ports needs a positive number"),
        ("map -p 22 --top-ports 5 H", "give either -p or --top-ports"),
    ])
    func refused(line: String, expected: String) {
        let text = Self.refusal(line)
        #expect(text?.contains(expected) == true, "\(line): \(text ?? "accepted")")
        #expect(text?.contains("\n") == false)
    }

    @Test("every value option of the rewrite keeps its value, even one that looks like a flag")
    func valueOptions() {
        for option in CommandLineHabits.valueOptions where !["-p", "--top-ports"].contains(option) {
            #expect(Self.rewritten("map \(option) -host H") == ["map", CommandLineHabits.longTwins[option] ?? option, "-host", "H"], "\(option)")
        }
    }
}

@Suite("nmap timing levels")
struct TimingTests {
    @Test("-T3 is the profile as it is; -T0..-T2 go one probe at a time with nmap's pauses")
    func slowLevels() {
        let base = Profile.Performance()
        var normal = base
        normal.applyTiming(3)
        #expect(normal == base)
        for (level, delay) in [(0, 300_000), (1, 15_000), (2, 400)] {
            var slow = base
            slow.applyTiming(level)
            #expect(slow.packetDelayMs == delay)
            #expect(slow.concurrency == 1 && slow.parallelHosts == 1 && slow.hostParallelism == 1)
            #expect(slow.maxRTTTimeoutMs >= slow.initialRTTTimeoutMs)
        }
    }

    @Test("-T4 and -T5 shorten the round-trip timeouts to nmap's, never lengthen them")
    func fastLevels() {
        var aggressive = Profile.Performance()
        aggressive.applyTiming(4)
        #expect(aggressive.initialRTTTimeoutMs == 500 && aggressive.maxRTTTimeoutMs == 1250)
        var insane = Profile.Performance()
        insane.retries = 3
        insane.applyTiming(5)
        #expect(insane.initialRTTTimeoutMs == 250 && insane.maxRTTTimeoutMs == 300 && insane.minRTTTimeoutMs == 50)
        #expect(insane.retries == 1)
        var quick = Profile.Performance()
        quick.initialRTTTimeoutMs = 200
        quick.maxRTTTimeoutMs = 400
        quick.applyTiming(4)
        #expect(quick.initialRTTTimeoutMs == 200 && quick.maxRTTTimeoutMs == 400)
    }
}

@Suite("nmap's octet patterns and service names")
struct OctetPatternTests {
    static func blocks(_ text: String) throws(TargetError) -> [String] {
        try TargetParser.parseList(text).map(\.description)
    }

    @Test("octet ranges and * stand for nmap's addresses", arguments: [
        ("10.0.1-3.2", ["10.0.1.2", "10.0.2.2", "10.0.3.2"]),
        ("10.0.0.*", ["10.0.0.0/24"]),
        ("10.0.*.*", ["10.0.0.0/16"]),
        ("10.1-2.*.7", (0...255).map { "10.1.\($0).7" } + (0...255).map { "10.2.\($0).7" }),
        ("10.0.4-5.10-20", ["10.0.4.10-10.0.4.20", "10.0.5.10-10.0.5.20"]),
        ("10.0.-1.1", ["10.0.0.1", "10.0.1.1"]),
        ("10.0.0.1-5", ["10.0.0.1-10.0.0.5"]),
    ])
    func patterns(text: String, expected: [String]) throws {
        #expect(try Self.blocks(text) == expected)
    }

    @Test("an octet pattern in an exclusion list excludes the same addresses")
    func exclusions() throws {
        let set = AddressSet(try TargetParser.parseBlocks("10.0.1-6.2"))
        #expect(set.count == 6)
        #expect(set.contains(IPAddress("10.0.4.2")!))
        #expect(!set.contains(IPAddress("10.0.4.3")!))
    }

    @Test("bad octet patterns name the octet", arguments: [
        ("10.0.300-301.1", "out of range"),
        ("10.0.9-3.1", "ends before it starts"),
        ("10.0.1-2-3.1", "not a number, a range a-b or *"),
        ("1-3.*.*.1", "196608 separate blocks"),
    ])
    func bad(text: String, reason: String) {
        #expect(throws: TargetError.self) { try Self.blocks(text) }
        do { _ = try Self.blocks(text) } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }

    @Test("-p takes service names, from /etc/services text or the built-in table")
    func serviceNames() throws {
        let services = ServiceNames.parse(services: """
            # comment
            ssh\t\t22/tcp
            http\t\t80/tcp\t\twww\t# WorldWideWeb HTTP
            snmp\t\t161/udp
            cartod\t\t4444/tcp
            """, source: "test")
        #expect(try PortSpec.parse("ssh,www,cartod", names: services).tcp == [22, 80, 4444])
        #expect(try PortSpec.parse("U:snmp", names: services).udp == [161])
        #expect(try PortSpec.parse("rdp,22-23", names: services).tcp == [22, 23, 3389])
        #expect(try PortSpec.parse("https", names: .builtIn).tcp == [443])
        #expect(throws: PortSpecError.self) { try PortSpec.parse("cartod", names: .builtIn) }
        do { _ = try PortSpec.parse("T:snmp", names: services) } catch {
            #expect(error.reason.contains("tcp service name known to test"))
        }
    }
}
