import ArgumentParser
import CartographProbes
import Foundation

/// What the shell completions (`--generate-completion-script bash|zsh`) offer beyond files: the
/// profile and probe names this installation can see, the user's included. The scripts call
/// the binary back for these, so a new profile or probe is offered as soon as it exists.
enum Completions {
    static let profiles = CompletionKind.custom { _, _, _ in ProfileLoading.availableNames() }

    /// Probe names (and, for `--probes`, categories), loaded without printing warnings: a
    /// completion must never write to the terminal.
    static let probes = CompletionKind.custom { _, _, _ in names(categories: false) }
    static let probesAndCategories = CompletionKind.custom { _, _, _ in names(categories: true) + ["none"] }

    static func names(categories: Bool) -> [String] {
        guard let directories = try? Resources.probeDirectories(),
              let library = try? ProbeLibrary.load(directories: directories) else { return [] }
        var words = library.definitions.map(\.name)
        if categories { words += library.definitions.flatMap(\.categories) }
        return Array(Set(words)).sorted()
    }
}
