/// The command line as nmap and naabu users type it, rewritten into Cartograph's own flags
/// before the argument parser sees it, or refused with the exact equivalent in one line.
///
/// The argument parser reads a single-dash word as a cluster of one-letter flags: `-oX` became
/// `-o X`, `-T4` a typo of `-iL`, and naabu's `-host` held `-h`, so it printed the help and
/// exited 0. Every single-dash word in flag position is therefore settled here: ours (`-iL`,
/// `-p-`), an nmap form with a meaning here (rewritten), or a word with a one-line answer.
/// docs/nmap-habits.md lists every form.
public enum CommandLineHabits {
    /// What becomes of a command line.
    public enum Outcome: Equatable, Sendable {
        /// The arguments to parse (without the program name).
        case arguments([String])
        /// Not accepted: one line saying what to type instead (exit 64).
        case refused(String)
    }

    /// The subcommands of the root command; a first argument that is a flag means `map`.
    public static let subcommands: Set<String> = ["map", "maps", "hosts", "profiles", "probes", "help"]

    /// Options of any subcommand that take a value: the word after one is a value, never a flag.
    public static let valueOptions: Set<String> = [
        "-iL", "-p", "-o", "--output", "--exclude", "--exclude-file", "--inventory", "--group-targets", "--profile",
        "--probes", "--probe-dir", "--dns-servers", "--rate", "--engine", "--format", "--network", "--title",
        "--notifications", "--progress", "--db", "--timeout", "--arg", "--dir", "--from", "--timing", "--top-ports",
        "--excludefile", "--max-rate",
    ]

    /// nmap's long options with a Cartograph twin under another name.
    static let longTwins = ["--excludefile": "--exclude-file", "--max-rate": "--rate"]

    /// naabu's single-dash words (and nmap's long ones people type with one dash), with ours.
    static let foreignWords: [String: String] = [
        "-host": "give targets as arguments: cartograph map HOST ...",
        "-list": "read targets from a file with -iL FILE",
        "-json": "write JSON lines with --format jsonl",
        "-jsonl": "write JSON lines with --format jsonl",
        "-silent": "show no progress with --progress none",
        "-port": "give ports with -p PORTS",
        "-ports": "give ports with -p PORTS",
        "-top-ports": "give --top-ports N (or -p top:N)",
        "-exclude-hosts": "exclude addresses with --exclude LIST",
        "-exclude": "exclude addresses with --exclude LIST",
        "-ef": "read addresses to exclude with --exclude-file FILE",
        "-rate": "set the rate with --rate N",
        "-retries": "set retries in a profile (performance.retries); see cartograph profiles new",
        "-timeout": "set timeouts in a profile (performance.*_timeout_ms); see cartograph profiles new",
        "-scan-type": "choose the engine with --engine syn|connect (nmap's -sS / -sT)",
        "-nmap": "Cartograph identifies services itself; drop -nmap",
        "-help": "ask for the help with --help",
        "-version": "ask for the version with --version",
        "-iR": "Cartograph never picks random targets; give them as arguments or with -iL FILE",
        "-min-rate": "set the rate with --rate N",
        "-oG": "grepable output is not written; use --format csv -o FILE (one row per port)",
        "-oS": "script-kiddie output is not written; use -oN FILE",
        "-sA": "ACK scans are not supported; use -sS (--engine syn) or -sT (--engine connect)",
        "-sF": "FIN scans are not supported; use -sS (--engine syn) or -sT (--engine connect)",
        "-sN": "NULL scans are not supported; use -sS (--engine syn) or -sT (--engine connect)",
        "-sX": "Xmas scans are not supported; use -sS (--engine syn) or -sT (--engine connect)",
        "-sL": "list the plan without sending with --dry-run",
        "-sO": "IP protocol scans are not supported",
        "-PE": "choose sweep methods in a profile (host_discovery.methods: [icmp-echo]); see cartograph profiles new",
        "-PS": "choose sweep methods in a profile (host_discovery.methods: [tcp]); see cartograph profiles new",
        "-PA": "choose sweep methods in a profile (host_discovery.methods); see cartograph profiles new",
        "-PU": "choose sweep methods in a profile (host_discovery.methods); see cartograph profiles new",
        "-PR": "ARP sweeps are chosen in a profile (host_discovery.methods: [arp]); see cartograph profiles new",
    ]

    /// nmap's `-T` levels by name.
    static let timingNames = ["paranoid": 0, "sneaky": 1, "polite": 2, "normal": 3, "aggressive": 4, "insane": 5]

    public static func rewrite(_ arguments: [String]) -> Outcome {
        guard let first = arguments.first else { return .arguments(arguments) }
        if first == "-V" && arguments.count == 1 { return .arguments(["--version"]) }
        var arguments = arguments
        // The root's own options, and the calls the shell completion scripts make, stay as they are.
        let rootOptions = ["-h", "--help", "--version"]
        if first.hasPrefix("-") && !rootOptions.contains(first) && !first.hasPrefix("---")
            && !first.hasPrefix("--generate-completion") && !first.hasPrefix("--experimental") {
            // `cartograph -p 22 HOST`, as with nmap: the map command is meant.
            arguments.insert("map", at: 0)
        }
        let isMap = arguments.first == "map"
        var out: [String] = []
        var tcp = false, udp = false
        var ports: String?
        var topPorts: String?
        var index = 0
        func value(after flag: String) -> String? {
            guard index + 1 < arguments.count else { return nil }
            index += 1
            return arguments[index]
        }
        while index < arguments.count {
            let word = arguments[index]
            defer { index += 1 }
            if word == "--" {
                out += arguments[index...]
                index = arguments.count
                break
            }
            if word == "-p-" { ports = "-"; continue }
            let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
            if valueOptions.contains(name) && !word.contains("=") {
                guard let next = value(after: word) else { out.append(word); continue }
                if isMap && name == "-p" { ports = next } else if isMap && name == "--top-ports" { topPorts = next } else { out += [longTwins[word] ?? word, next] }
                continue
            }
            if isMap && word.hasPrefix("--top-ports=") { topPorts = String(word.dropFirst(12)); continue }
            if isMap && word.hasPrefix("-p") && word.count > 2 && word.dropFirst(2).first.map({ $0.isNumber || $0 == "T" || $0 == "U" }) == true {
                // nmap's -p22,80 (no space).
                ports = String(word.dropFirst(2))
                continue
            }
            if isMap && word == "-T", let level = value(after: word) {
                guard let number = Int(level) ?? timingNames[level.lowercased()], (0...5).contains(number) else {
                    return .refused("-T \(level): nmap's timing levels are -T0 to -T5 (or -Tparanoid .. -Tinsane)")
                }
                out += ["--timing", String(number)]
                continue
            }
            if isMap && (word == "-v" || word == "-d") { out.append("--verbose"); continue }
            if isMap && word == "-F" { topPorts = "100"; continue }   // nmap's fast scan: the top 100 ports
            // What these ask nmap for, a map does by default: identification with the default
            // probes, OS and device classification, the traceroute, IPv6 targets as given.
            if isMap && ["-A", "-O", "-6", "-sC", "--traceroute"].contains(word) { continue }
            guard word.hasPrefix("-") && !word.hasPrefix("--") && word.count > 2 else {
                out.append(word)
                continue
            }
            // A single-dash word in flag position.
            if word == "-iL" || word.hasPrefix("-iL=") { out.append(word); continue }
            guard isMap else {
                let command = (["cartograph"] + arguments.prefix { !$0.hasPrefix("-") }.prefix(2)).joined(separator: " ")
                return .refused(answer(for: word, command: command))
            }
            switch word {
            case "-sS": out += ["--engine", "syn"]; tcp = true
            case "-sT": out += ["--engine", "connect"]; tcp = true
            case "-sU": udp = true
            case "-sV": break   // identification runs by default
            case "-sn", "-sP": out.append("--no-port-scan")
            case "-Pn": out.append("--no-sweep")
            case "-v", "-vv", "-vvv", "-d", "-dd", "-ddd": out.append("--verbose")
            case "-oX", "-oN", "-oJ":
                guard let file = value(after: word) else { return .refused("\(word) needs a file name (or - for standard output)") }
                out += ["--format", ["-oX": "xml", "-oN": "text", "-oJ": "json"][word]!, "-o", file]
            case "-oA":
                let base = value(after: word) ?? "BASE"
                return .refused("-oA writes three files; Cartograph writes one report a run: use -oX \(base).xml, then cartograph maps report latest --format text -o \(base).txt")
            default:
                if word.hasPrefix("-T"), let level = Int(word.dropFirst(2)) ?? timingNames[String(word.dropFirst(2)).lowercased()] {
                    guard (0...5).contains(level) else { return .refused("\(word): nmap's timing levels are -T0 to -T5") }
                    out += ["--timing", String(level)]
                } else {
                    return .refused(answer(for: word))
                }
            }
        }
        if isMap {
            if let topPorts {
                guard let count = Int(topPorts), count > 0 else { return .refused("--top-ports needs a positive number, not \"\(topPorts)\"") }
                if ports != nil { return .refused("give either -p or --top-ports, not both (--top-ports \(count) is -p top:\(count))") }
                ports = "top:\(count)"
            }
            if udp && ports == nil { ports = "top:1000" }
            if let ports { out += ["-p", udp ? qualified(ports, tcp: tcp) : ports] }
        }
        return .arguments(out)
    }

    /// A port list under nmap's -sU (and -sS/-sT): ports without a `T:`/`U:` prefix count for
    /// each protocol scanned.
    static func qualified(_ ports: String, tcp: Bool) -> String {
        if ports.uppercased().contains("T:") || ports.uppercased().contains("U:") { return ports }
        return tcp ? "T:\(ports),U:\(ports)" : "U:\(ports)"
    }

    /// The one-line answer to a single-dash word of more than one letter that is not ours.
    static func answer(for word: String, command: String = "cartograph map") -> String {
        let key = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
        guard command == "cartograph map" else {
            return "\(key): unknown option (options of more than one letter take two dashes: --\(key.dropFirst())); see \(command) --help"
        }
        if let known = foreignWords[key] { return "\(key) is not an option here; \(known)" }
        if key.hasPrefix("-o") { return "\(key): unknown output form; use -oX FILE (nmap XML), -oN FILE (text), -oJ FILE (JSON) or -o FILE.xml|.json|.jsonl|.csv|.html" }
        if key.hasPrefix("-s") { return "\(key): unknown scan type; use -sS (--engine syn), -sT (--engine connect), -sU (UDP ports) or -sn (no port scan)" }
        if key.hasPrefix("-T") { return "\(key): nmap's timing levels are -T0 to -T5 (or -Tparanoid .. -Tinsane)" }
        return "\(key): unknown option (options of more than one letter take two dashes: --\(key.dropFirst())); see \(command) --help"
    }
}
