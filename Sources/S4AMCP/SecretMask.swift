import Foundation

/// Values set through `set_secret` in this session. The API never returns a secret and masks
/// them in captured output; as a second line of defence every text this MCP server sends
/// (tool results, resources) has them replaced, so a value given to a tool never comes back.
public actor SecretMask {
    private var values: Set<String> = []
    /// Off for a control plane's shared endpoint: it serves many callers and keeps no values
    /// (each set_secret call's own answer is still masked).
    let remembers: Bool

    public init(remembers: Bool = true) { self.remembers = remembers }

    func remember(_ value: String) {
        guard remembers, !value.isEmpty else { return }
        values.insert(value)
    }

    func scrub(_ text: String) -> String {
        // Longest first, so a value containing another is replaced whole.
        values.sorted { $0.count > $1.count }.reduce(text) { text, value in
            text.replacingOccurrences(of: value, with: "[secret]")
        }
    }
}
