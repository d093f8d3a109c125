@testable import CPISDomain
import Foundation
import Testing

@Suite("English local time")
struct EnglishTimeTests {
    @Test("Europe/London loads here with BST in summer and GMT in winter (the worker refuses to start otherwise)")
    func zoneLoads() {
        #expect(HL7Time.londonZoneProblem == nil)
    }

    // 2026-07-01 09:05:03.007 UTC: every field needs its leading zero.
    private let summerMorning = Date(timeIntervalSince1970: 1_782_896_703.007)

    @Test("the simulator dataset's English local times read with BST in summer and GMT in winter; other shapes refused")
    func englishLocalTime() {
        #expect(HL7Time.englishLocalTime("2026-07-01 10:00") == Date(timeIntervalSince1970: 1_782_896_400))  // 09:00Z
        #expect(HL7Time.englishLocalTime("2026-01-01 10:00") == Date(timeIntervalSince1970: 1_767_261_600))  // 10:00Z
        for text in ["2026-07-01T10:00", "2026-07-01 10:00:00", "2026-13-01 10:00", "2026-07-01 25:00", "2026-07-01 1O:00",
                     "", "2026-07-01 10:00Z", "２０２６-07-01 10:00"] {
            #expect(HL7Time.englishLocalTime(text) == nil, "\(text)")
        }
    }

    @Test("timestamps are written digit by digit with every leading zero, and read back")
    func timestampText() {
        #expect(UTCTimestamp.string(summerMorning) == "2026-07-01T09:05:03.007Z")
        #expect(HL7Time.timestamp(summerMorning) == "20260701090503+0000")
        #expect(HL7Time.utcDigits(summerMorning) == "20260701090503")
        #expect(HL7Time.localMinutes(summerMorning) == "202607011005")  // BST
        #expect(HL7Time.localMinutes(Date(timeIntervalSince1970: 1_767_258_000)) == "202601010900")  // GMT
        #expect(HL7Time.date(HL7Time.localMinutes(summerMorning)) == Date(timeIntervalSince1970: 1_782_896_700))
    }

    @Test("dates before 1970 and years below 1000 keep their width")
    func unusualDates() {
        #expect(UTCTimestamp.string(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000Z")
        #expect(CalendarDate(year: 999, month: 1, day: 2)?.description == "0999-01-02")
        #expect(HL7Time.string(CalendarDate(year: 2019, month: 3, day: 2)!) == "20190302")
    }
}
