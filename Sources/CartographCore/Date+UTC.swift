import Foundation

extension Date {
    /// The date in UTC with a fixed (POSIX) locale, in `pattern` (DateFormatter syntax): the
    /// layouts other tools expect (RFC 5322 mail dates, nmap's `startstr`) never follow the
    /// user's locale.
    public func utc(_ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: self)
    }
}
