import CartographCore

/// Escaping shared by the XML and HTML reports.
enum Markup {
    enum Whitespace { case keep, references }

    /// Markup characters become entities. Characters XML 1.0 forbids and HTML calls parse errors
    /// (C0 controls other than tab, LF and CR; the C1 controls; U+FFFE and U+FFFF) are dropped,
    /// since service banners are bytes a remote host chose; bidi overrides become character references.
    static func escape(_ text: String, apostrophe: String, whitespace: Whitespace) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += apostrophe
            case "\t", "\n", "\r":
                // A raw CR would let a banner overwrite a line of the file shown on a terminal.
                if whitespace == .references || scalar == "\r" { out += "&#\(scalar.value);" } else { out.unicodeScalars.append(scalar) }
            default:
                let value = scalar.value
                if value < 0x20 || (0x7F...0x9F).contains(value) || value == 0xFFFE || value == 0xFFFF { continue }
                // Bidi overrides are legal, but would disguise the file's text on a terminal: a
                // character reference keeps the value the same for parsers, and the bytes inert.
                if TerminalSafety.needsEscape(scalar) { out += "&#x\(String(value, radix: 16));"; continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
