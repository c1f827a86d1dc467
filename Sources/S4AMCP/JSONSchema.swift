import MCP

/// The JSON Schemas of tool inputs, written as MCP `Value`s. Every input is an object whose
/// unknown properties are refused (`additionalProperties: false`).
enum JSONSchema {
    static func object(_ properties: [String: Value], required: [String] = []) -> Value {
        .object([
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }

    static func string(_ description: String, oneOf choices: [String]? = nil, maxLength: Int? = nil) -> Value {
        var schema: [String: Value] = ["type": "string", "description": .string(description)]
        if let choices { schema["enum"] = .array(choices.map { .string($0) }) }
        if let maxLength { schema["maxLength"] = .int(maxLength) }
        return .object(schema)
    }

    static func integer(_ description: String, minimum: Int? = nil, maximum: Int? = nil) -> Value {
        var schema: [String: Value] = ["type": "integer", "description": .string(description)]
        if let minimum { schema["minimum"] = .int(minimum) }
        if let maximum { schema["maximum"] = .int(maximum) }
        return .object(schema)
    }

    static func boolean(_ description: String) -> Value {
        .object(["type": "boolean", "description": .string(description)])
    }

    /// Dollars: a decimal string (`"5.00"`, exact) or a number (`5`), at most six decimals.
    static func money(_ description: String) -> Value {
        .object(["type": .array(["string", "number"]), "description": .string(description)])
    }

    static func stringMap(_ description: String) -> Value {
        .object(["type": "object", "description": .string(description),
                 "additionalProperties": .object(["type": "string"])])
    }
}
