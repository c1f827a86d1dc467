import Crypto
import Foundation
@testable import S4ADomain
import Testing

/// Envelope encryption and masking: pure logic, no store.
struct VaultTests {
    @Test func aValueOpensOnlyAtItsOwnAddressWithItsOwnKey() throws {
        let master = MasterKey.generate()
        let (key, wrapped) = try Envelope.newDataKey(projectID: "prj_a", master: master)
        let address = SecretAddress(projectID: "prj_a", serverID: nil, name: "TOKEN")
        let sealed = try Envelope.sealValue("s3cret-value", key: key, address: address)
        #expect(try Envelope.openValue(sealed, key: key, address: address) == "s3cret-value")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("s3cret"))
        // A fresh nonce each time: the same value never seals to the same bytes.
        #expect(try Envelope.sealValue("s3cret-value", key: key, address: address) != sealed)
        for moved in [SecretAddress(projectID: "prj_a", serverID: nil, name: "OTHER"),
                      SecretAddress(projectID: "prj_a", serverID: "srv_x", name: "TOKEN"),
                      SecretAddress(projectID: "prj_b", serverID: nil, name: "TOKEN")] {
            #expect(throws: VaultError.cannotOpen) { try Envelope.openValue(sealed, key: key, address: moved) }
        }
        #expect(throws: VaultError.cannotOpen) {
            try Envelope.openValue(sealed, key: SymmetricKey(size: .bits256), address: address)
        }
        var altered = sealed
        altered[altered.count - 1] ^= 1
        #expect(throws: VaultError.cannotOpen) { try Envelope.openValue(altered, key: key, address: address) }
        // The data key opens only with its master key and for its project.
        let unwrapped = try Envelope.unwrap(wrapped, projectID: "prj_a", master: master)
        #expect(try Envelope.openValue(sealed, key: unwrapped, address: address) == "s3cret-value")
        #expect(throws: VaultError.cannotOpen) { try Envelope.unwrap(wrapped, projectID: "prj_b", master: master) }
        #expect(throws: VaultError.cannotOpen) { try Envelope.unwrap(wrapped, projectID: "prj_a", master: .generate()) }
    }

    @Test func aVersionTwoWrapNeedsTheShredKeyAsWellAsTheMasterKey() throws {
        let master = MasterKey.generate()
        let shred = Array(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
        let key = SymmetricKey(size: .bits256)
        let wrapped = try Envelope.wrap(key, projectID: "prj_a", master: master, shredKey: shred)
        #expect(try Envelope.unwrap(wrapped, projectID: "prj_a", master: master, shredKey: shred) == key)
        // Without its shred key the master key opens nothing; nor the other way round.
        #expect(throws: VaultError.cannotOpen) { try Envelope.unwrap(wrapped, projectID: "prj_a", master: master) }
        #expect(throws: VaultError.cannotOpen) {
            try Envelope.unwrap(wrapped, projectID: "prj_a", master: master, shredKey: [UInt8](repeating: 0, count: 32))
        }
        #expect(throws: VaultError.cannotOpen) {
            try Envelope.unwrap(wrapped, projectID: "prj_a", master: .generate(), shredKey: shred)
        }
        #expect(throws: VaultError.cannotOpen) {
            try Envelope.unwrap(wrapped, projectID: "prj_b", master: master, shredKey: shred)
        }
    }

    @Test func aDestroyedShredKeyIsGoneFromItsDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keyring = try ProjectKeyDirectory(path: directory)
        let made = try keyring.createShredKey(projectID: "prj_a")
        #expect(try keyring.shredKey(projectID: "prj_a") == made)
        #expect(made.count == 32)
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/prj_a.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try keyring.destroyShredKey(projectID: "prj_a")
        try keyring.destroyShredKey(projectID: "prj_a")  // again: nothing to do
        #expect(try keyring.shredKey(projectID: "prj_a") == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        #expect(throws: DomainError.self) { try keyring.createShredKey(projectID: "../etc/passwd") }
    }

    @Test func masterKeysParseAndFingerprintWithoutRevealingThemselves() throws {
        let key = MasterKey.generate()
        let again = try MasterKey(base64: "  \(key.base64)\n")
        #expect(again.fingerprint == key.fingerprint)
        #expect(MasterKey.generate().fingerprint != key.fingerprint)
        #expect(!key.fingerprint.contains(key.base64.prefix(8)))
        #expect(throws: DomainError.self) { try MasterKey(base64: "not base64!") }
        #expect(throws: DomainError.self) { try MasterKey(bytes: [UInt8](repeating: 1, count: 16)) }
    }

    @Test func namesFollowTheRules() throws {
        for good in ["A", "_X", "API_TOKEN_2", String(repeating: "A", count: 128)] { try SecretRules.check(name: good) }
        for bad in ["", "a", "1A", "A-B", "Ä", "PATH", "HOME", "PORT", "S4A_KEY", String(repeating: "A", count: 129)] {
            #expect(throws: DomainError.self) { try SecretRules.check(name: bad) }
        }
        #expect(throws: DomainError.self) { try SecretRules.check(value: String(repeating: "x", count: 64 * 1024 + 1)) }
    }

    @Test func maskingReplacesEveryOccurrenceLongestFirstAndSkipsShortValues() {
        let masker = SecretMasker(["abcd", "abcdef", "xy"])
        #expect(masker.mask("abcdef abcd xy") == "*** *** xy")
        #expect(masker.mask(bytes: Array("--abcdef--".utf8)) == Array("--***--".utf8))
    }

    @Test func streamMaskingCatchesAValueSplitAcrossPieces() {
        let stream = StreamMasker(SecretMasker(["TOPSECRET"]))
        var shown: [UInt8] = []
        for piece in ["hello TOP", "SEC", "RET and TOPSE", "CRET!", " end"] { shown += stream.feed(Array(piece.utf8)) }
        shown += stream.finish()
        #expect(String(decoding: shown, as: UTF8.self) == "hello *** and ***! end")
    }
}
