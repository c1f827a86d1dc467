/// A tool called with arguments its schema refuses, or that cannot be used: reported to
/// the model as a tool error, with what to fix.
struct ToolInputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
