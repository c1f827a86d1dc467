import Foundation
import MCP
import S4AContract

/// A tool call's arguments, checked against the tool's own schema before its handler runs:
/// unknown names, missing required ones and wrong types become `ToolInputError`s.
struct ToolArguments: Sendable {
    let values: [String: Value]

    init(_ values: [String: Value]?, schema: Value) throws {
        let values = values ?? [:]
        let properties = schema.objectValue?["properties"]?.objectValue ?? [:]
        let required = schema.objectValue?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for name in values.keys.sorted() where properties[name] == nil {
            let known = properties.keys.sorted().joined(separator: ", ")
            throw ToolInputError("Unknown argument '\(name)'. This tool takes: \(known.isEmpty ? "no arguments" : known).")
        }
        for name in required where values[name] == nil || values[name] == .null {
            throw ToolInputError("Missing required argument '\(name)'.")
        }
        for (name, value) in values where value != .null {
            guard let property = properties[name]?.objectValue else { continue }
            try Self.check(name, value, against: property)
        }
        self.values = values.filter { $0.value != .null }
    }

    private static func check(_ name: String, _ value: Value, against property: [String: Value]) throws {
        let types: [String] = property["type"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue ?? ""] } ?? []
        let matches = types.contains { type in
            switch (type, value) {
            case ("string", .string), ("string", .data): return true
            case ("integer", .int): return true
            case ("integer", .double(let number)): return number.rounded() == number && abs(number) < 1e15
            case ("number", .int), ("number", .double): return true
            case ("boolean", .bool): return true
            case ("object", .object): return true
            case ("array", .array): return true
            default: return false
            }
        }
        guard types.isEmpty || matches else {
            throw ToolInputError("Argument '\(name)' must be \(types.joined(separator: " or ")).")
        }
        if let choices = property["enum"]?.arrayValue?.compactMap(\.stringValue), let text = value.stringValue,
           !choices.contains(text) {
            throw ToolInputError("Argument '\(name)' must be one of: \(choices.joined(separator: ", ")).")
        }
        if let text = Self.text(value) {
            if let maxLength = property["maxLength"]?.intValue, text.count > maxLength {
                throw ToolInputError("Argument '\(name)' is longer than \(maxLength) characters.")
            }
        }
        if let number = Self.integer(value) {
            if let minimum = property["minimum"]?.intValue, number < minimum {
                throw ToolInputError("Argument '\(name)' must be at least \(minimum).")
            }
            if let maximum = property["maximum"]?.intValue, number > maximum {
                throw ToolInputError("Argument '\(name)' must be at most \(maximum).")
            }
        }
        if case .object(let map) = value, property["additionalProperties"]?.objectValue?["type"] == "string" {
            for (key, entry) in map where Self.text(entry) == nil {
                throw ToolInputError("Argument '\(name).\(key)' must be a string.")
            }
        }
    }

    /// A string argument. MCP's `Value` reads strings that look like `data:` URLs as data;
    /// they are turned back into the text that was sent.
    static func text(_ value: Value) -> String? {
        switch value {
        case .string(let text): return text
        case .data:
            guard let encoded = try? JSONEncoder().encode(value),
                  let text = try? JSONDecoder().decode(String.self, from: encoded) else { return nil }
            return text
        default: return nil
        }
    }

    static func integer(_ value: Value) -> Int? {
        switch value {
        case .int(let number): return number
        case .double(let number) where number.rounded() == number && abs(number) < 1e15: return Int(number)
        default: return nil
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name], let text = Self.text(value) else {
            throw ToolInputError("Missing required argument '\(name)'.")
        }
        return text
    }

    func optionalString(_ name: String) -> String? { values[name].flatMap(Self.text) }

    func optionalInt(_ name: String) -> Int? { values[name].flatMap(Self.integer) }

    func optionalBool(_ name: String) -> Bool? { values[name]?.boolValue }

    func stringMap(_ name: String) -> [String: String]? {
        guard let map = values[name]?.objectValue else { return nil }
        return map.compactMapValues(Self.text)
    }

    /// Dollars as the API takes them: a string as given (exact), a number as a number.
    func money(_ name: String) throws -> Components.Schemas.MoneyInput {
        switch values[name] {
        case .string(let text)?: return .Money(text)
        case .int(let number)?: return .case2(Double(number))
        case .double(let number)?: return .case2(number)
        default: throw ToolInputError("Argument '\(name)' must be dollars, e.g. \"5.00\" or 5.")
        }
    }
}
