import CPISDomain
import Testing

@Suite("NHS number")
struct NHSNumberTests {
    @Test("accepts valid numbers with or without separators", arguments: [
        "9434765919", "943 476 5919", "943-476-5919", " 943 476 5919 ", "1111111111", "8888888888", "9990000018",
    ])
    func acceptsValid(text: String) throws {
        let number = try NHSNumber(text)
        #expect(number.digits.count == 10)
        #expect(number.digits.allSatisfy { $0.isNumber })
    }

    @Test("normalises, formats 3-3-4 and masks")
    func formats() throws {
        let number = try NHSNumber("943-476-5919")
        #expect(number.digits == "9434765919")
        #expect(number.formatted == "943 476 5919")
        #expect(number.masked == "*** *** 5919")
        #expect("\(number)" == "*** *** 5919")
        #expect(!String(describing: number).contains("943476"))
    }

    @Test("refuses what is not an NHS number, saying why", arguments: [
        ("", NHSNumberError.empty),
        ("943476591", .wrongLength(9)),
        ("94347659190", .wrongLength(11)),
        ("9434765918", .wrongCheckDigit),
        ("1234567895", .wrongCheckDigit),  // the success template's example number
        ("943.476.5919", .invalidCharacters),
        ("94347659I9", .invalidCharacters),
        ("９４３４７６５９１９", .invalidCharacters),  // full-width digits
    ])
    func refusesInvalid(text: String, expected: NHSNumberError) {
        #expect(throws: expected) { try NHSNumber(text) }
    }

    @Test("a check digit of 10 makes the number invalid")
    func checkDigitTen() {
        // 100000001: 1×10 + 1×2 = 12, remainder 1, so the check digit would be 10: no final digit fits.
        for last in 0...9 {
            #expect(throws: NHSNumberError.wrongCheckDigit) { try NHSNumber("100000001\(last)") }
        }
    }

    @Test("the check digit rule holds for every final digit")
    func exactlyOneCheckDigit() {
        let valid = (0...9).filter { (try? NHSNumber("943476591\($0)")) != nil }
        #expect(valid == [9])
    }
}
