/// The resources of RFC 8555 §7.1 this client reads (unknown fields are ignored).
struct ACMEDirectory: Decodable {
    var newNonce: String
    var newAccount: String
    var newOrder: String
    var meta: Meta?

    struct Meta: Decodable {
        var termsOfService: String?
        var externalAccountRequired: Bool?
    }
}

struct ACMEIdentifier: Codable, Equatable {
    var type: String
    var value: String
}

struct ACMEOrder: Decodable {
    var status: String
    var identifiers: [ACMEIdentifier]?
    var authorizations: [String]
    var finalize: String
    var certificate: String?
    var error: ACMEProblem?
}

struct ACMEAuthorization: Decodable {
    var status: String
    var identifier: ACMEIdentifier
    var challenges: [ACMEChallenge]
    var wildcard: Bool?
}

struct ACMEChallenge: Decodable {
    var type: String
    var url: String
    var status: String
    var token: String?
    var error: ACMEProblem?
}

struct NewAccountRequest: Encodable {
    var termsOfServiceAgreed: Bool
    var contact: [String]?
}

struct NewOrderRequest: Encodable {
    var identifiers: [ACMEIdentifier]
}

struct FinalizeRequest: Encodable {
    var csr: String
}
