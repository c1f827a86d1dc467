/// What `s4a --version` prints: the version of the API contract this binary speaks (the
/// `info.version` of `Sources/S4AContract/openapi.yaml`; a test keeps the two equal).
enum S4AVersion {
    static let current = "0.1.0"
}
