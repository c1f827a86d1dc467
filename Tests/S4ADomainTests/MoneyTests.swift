import S4ADomain
import Testing

@Suite struct MoneyTests {
    @Test(arguments: [("0", 0), ("12", 12_000_000), ("12.5", 12_500_000), ("0.000001", 1), ("999999999.999999", 999_999_999_999_999)])
    func parsesDecimalDollars(text: String, micros: Int64) {
        #expect(MicroDollars(decimal: text)?.value == micros)
    }

    @Test(arguments: ["", ".5", "1.", "1.0000001", "-1", "1e3", "1,5", "10000000000", " 1", "0x10", "1.2.3"])
    func refusesAnythingElse(text: String) {
        #expect(MicroDollars(decimal: text) == nil)
    }

    @Test func printsWithTwoToSixDecimals() {
        #expect(MicroDollars(12_000_000).decimal == "12.00")
        #expect(MicroDollars(12_500_000).decimal == "12.50")
        #expect(MicroDollars(1).decimal == "0.000001")
        #expect(MicroDollars(decimal: MicroDollars(123_456_789).decimal)?.value == 123_456_789)
    }
}

@Suite struct SlugTests {
    @Test(arguments: ["abc", "my-app", "a1-b2-c3", String(repeating: "a", count: 40)])
    func accepts(slug: String) { #expect(Slug.problem(with: slug) == nil) }

    @Test(arguments: ["ab", "ABC", "a_b", "-ab", "ab-", "a--b", "api", "www", "admin", String(repeating: "a", count: 41), "a.b", "ab c"])
    func refuses(slug: String) { #expect(Slug.problem(with: slug) != nil) }

    @Test func generatedSlugsAreValid() {
        for name in ["My App", "   ", "日本語", "A--B__C", String(repeating: "long name ", count: 20), "api"] {
            let slug = Slug.generate(from: name)
            #expect(Slug.problem(with: slug) == nil, "\(name) → \(slug)")
        }
    }
}

@Suite struct TokenTests {
    @Test func bearerTokensCarry256BitsAndDiffer() {
        let a = RandomToken.bearer(prefix: APIKey.tokenPrefix)
        let b = RandomToken.bearer(prefix: APIKey.tokenPrefix)
        #expect(a != b)
        #expect(a.hasPrefix("s4a_"))
        let body = a.dropFirst(4)
        #expect(body.count == 43)
        // 43 base62 characters: 43 × log2(62) ≈ 256.03 bits.
        #expect(Double(body.count) * log2(62.0) >= 256)
        #expect(body.allSatisfy { $0.isLetter || $0.isNumber })
    }

    @Test func idsArePrefixed() {
        #expect(RandomToken.id(.project).hasPrefix("prj_"))
        #expect(RandomToken.id(.apiKey).hasPrefix("key_"))
        #expect(RandomToken.hash("x").count == 64)
    }
}

import Foundation
