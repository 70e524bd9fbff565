import Foundation

/// Text from the network (banners, titles, certificate and DNS names, probe logs) and from input
/// files is bytes someone else chose. A terminal obeys control characters in it: ESC starts
/// sequences that retitle the window, clear the screen or rewrite what was printed; CR and
/// backspace overwrite a line; the C1 controls (U+0080–U+009F) are escapes of their own to many
/// terminals; bidi overrides (U+202A–U+202E, U+2066–U+2069, and the marks U+200E, U+200F, U+061C)
/// make text read differently from what it is. Every printer of text (reports, listings, notes,
/// error lines) passes strings through `terminalSafe`, so none of those reach a terminal raw.
///
/// Escapes are visible and short: `\n`, `\r`, `\t`, `\x1b` for the other ASCII controls and DEL,
/// `\u{9b}` for C1 controls and bidi characters. Everything else, U+FFFD from invalid UTF-8
/// included, is kept. Backslashes are kept as they are: the escaped text is for people, and it
/// holds no control character whatever the input, so escaping twice changes nothing.
extension String {
    /// The text with every control character escaped, line breaks and tabs included: for one
    /// field of a line (a table cell, a banner, a name), so it can neither move the cursor nor
    /// start a line of its own.
    public var terminalSafe: String { TerminalSafety.escape(self, keepingNewlines: false) }

    /// The text with every control character escaped except `\n`: for a whole report or listing
    /// whose line breaks are its own.
    public var terminalSafeLines: String { TerminalSafety.escape(self, keepingNewlines: true) }

    /// True when the text holds nothing `terminalSafe` would escape.
    public var isTerminalSafe: Bool { !unicodeScalars.contains(where: TerminalSafety.needsEscape) }
}

/// The escaping behind `String.terminalSafe`, and the one list of characters it escapes.
public enum TerminalSafety {
    /// C0 controls, DEL, C1 controls and the characters that reorder bidirectional text.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    static func escape(_ text: String, keepingNewlines: Bool) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar), !(keepingNewlines && scalar == "\n") else {
                out.append(scalar)
                continue
            }
            out.append(contentsOf: visible(scalar).unicodeScalars)
        }
        return String(out)
    }

    static func visible(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            let hex = String(scalar.value, radix: 16)
            return scalar.value < 0x80 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
        }
    }

    /// JSON text whose strings may hold C1 controls, DEL or bidi characters (JSON escapes only
    /// the C0 controls) with each of those written `\uXXXX`, which JSON readers decode back to the
    /// same character. Outside strings, JSON text has none of them, so the rewrite is exact.
    public static func json(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0) && $0.value >= 0x20 }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20, needsEscape(scalar) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}

extension MapReport {
    /// `value` as JSON text with the encoder every JSON consumer of ours uses, C1 controls and
    /// bidi characters escaped so that the text is as safe on a terminal as in a file.
    public static func jsonText<T: Encodable>(_ value: T, encoder: JSONEncoder = MapReport.jsonEncoder()) throws -> String {
        TerminalSafety.json(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
