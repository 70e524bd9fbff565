import Foundation

/// Polling for a state another process reaches: no time limit of its own beyond `tries`.
public enum Poll {
    /// Checks `condition` every 100 ms, `tries` times at most; whether it came to hold.
    public static func until(tries: Int = 600, _ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<tries {
            if try condition() { return true }
            usleep(100_000)
        }
        return false
    }
}
