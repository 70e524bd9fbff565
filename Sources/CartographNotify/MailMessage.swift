import Foundation

/// One plain-text e-mail (RFC 5322, MIME), rendered to the exact bytes SMTP's DATA carries.
/// Header values are made single-line here, whatever the caller passes: titles and targets come
/// from users, and a line break in a header would let them add headers of their own.
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: [String]
    public var subject: String
    /// Text with any line ends; they become CRLF on the wire.
    public var body: String
    public var date: Date
    /// `<unique@domain>`; kept across retries so receivers can tell a repeat from a new message.
    public var messageID: String

    public init(from: String, to: [String], subject: String, body: String, date: Date = Date(), messageID: String? = nil) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.date = date
        let domain = from.split(separator: "@").last.map(String.init) ?? "cartograph.invalid"
        self.messageID = messageID ?? "<\(UUID().uuidString.lowercased())@\(Self.headerSafe(domain))>"
    }

    /// Headers and body, CRLF line ends, body quoted-printable (7-bit clean, so any server takes
    /// it, and no line exceeds 76 characters however long a target or an error is). Not yet
    /// dot-stuffed: that belongs to SMTP (`SMTPClient.dataBlock`).
    public func rendered() -> String {
        var lines: [String] = []
        lines.append("From: \(Self.headerSafe(from))")
        lines.append("To: " + to.map(Self.headerSafe).joined(separator: ",\r\n "))
        lines.append("Subject: " + Self.encodedHeaderText(Self.headerSafe(subject), offset: "Subject: ".count))
        lines.append("Date: \(Self.rfc5322Date(date))")
        lines.append("Message-ID: \(Self.headerSafe(messageID))")
        lines.append("MIME-Version: 1.0")
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: quoted-printable")
        // RFC 3834: machine-sent, so vacation responders and the like do not answer it.
        lines.append("Auto-Submitted: auto-generated")
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + Self.quotedPrintable(body)
    }

    /// One line: every control character (CR and LF above all) becomes a space.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    }

    /// `Tue, 01 Jul 2025 12:00:00 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        date.utc("EEE, dd MMM yyyy HH:mm:ss Z")
    }

    /// Header text as is when it is ASCII and short; otherwise RFC 2047 encoded words
    /// (`=?UTF-8?Q?...?=`, each at most 75 characters) on folded lines.
    static func encodedHeaderText(_ text: String, offset: Int) -> String {
        if text.allSatisfy(\.isASCII) && text.count + offset <= 78 { return text }
        let limit = 75 - "=?UTF-8?Q??=".count
        var words: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            var piece = ""
            if scalar == " " {
                piece = "_"
            } else if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "!*+-/.,:@[]".unicodeScalars.contains(scalar) {
                piece = String(scalar)
            } else {
                // An encoded character's bytes stay in one word: decoders treat words separately.
                piece = String(scalar).utf8.map { hex($0) }.joined()
            }
            if current.count + piece.count > limit {
                words.append(current)
                current = ""
            }
            current += piece
        }
        if !current.isEmpty || words.isEmpty { words.append(current) }
        return words.map { "=?UTF-8?Q?\($0)?=" }.joined(separator: "\r\n ")
    }

    /// RFC 2045 quoted-printable with CRLF hard line breaks and soft breaks before column 76.
    static func quotedPrintable(_ text: String) -> String {
        var out: [String] = []
        for line in lines(of: text) {
            let bytes = Array(line.utf8)
            var encoded = ""
            var width = 0
            for (index, byte) in bytes.enumerated() {
                let last = index == bytes.count - 1
                let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
                    || ((byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) && !last)
                let token = literal ? String(UnicodeScalar(byte)) : hex(byte)
                // Room for the token and, unless this ends the line, the soft break's "=".
                if width + token.count > (last ? 76 : 75) {
                    encoded += "=\r\n"
                    width = 0
                }
                encoded += token
                width += token.count
            }
            out.append(encoded)
        }
        return out.joined(separator: "\r\n") + "\r\n"
    }

    /// The lines of `text`, whatever mix of CRLF, LF and lone CR separates them.
    static func lines(of text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var previousCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                if !previousCR { result.append(current) }
                current = ""
                previousCR = false
            } else if scalar == "\r" {
                result.append(current)
                current = ""
                previousCR = true
            } else {
                current.unicodeScalars.append(scalar)
                previousCR = false
            }
        }
        result.append(current)
        // A final line end ends the last line; it does not start an empty one.
        if result.count > 1 && result.last == "" { result.removeLast() }
        return result
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "=" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0f)])
    }
}
