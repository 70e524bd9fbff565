import Glibc

/// Monotonic time in nanoseconds; the reactor and every timeout use it.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

extension UInt64 {
    /// Milliseconds as nanoseconds.
    @inlinable public static func ms(_ value: Int) -> UInt64 { UInt64(Swift.max(0, value)) * 1_000_000 }
}
