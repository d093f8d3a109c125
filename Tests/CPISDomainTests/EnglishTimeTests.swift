import CPISDomain
import Testing

@Suite("English local time")
struct EnglishTimeTests {
    @Test("Europe/London loads here with BST in summer and GMT in winter (the worker refuses to start otherwise)")
    func zoneLoads() {
        #expect(HL7Time.londonZoneProblem == nil)
    }
}
