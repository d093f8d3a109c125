import Foundation
import HTTPTransport
import Testing

/// Inputs the fuzz targets found (`Deploy/fuzz.sh`), kept byte for byte (base64) as libFuzzer
/// minimised them, and read as the targets read them: at once, byte by byte and in pieces of 7.
/// How a socket splits the bytes must not change what the parser makes of them.
@Suite("HTTP parsing: inputs found by fuzzing")
struct FuzzRegressionTests {
    /// The fuzz targets' limits: small, so that inputs of a few KiB reach them.
    private static let limits = HTTPServer.Limits(maximumHeaderBytes: 1024, maximumBodyBytes: 2048)
    private static let readSizes = [Int.max, 1, 7]

    /// The requests read and the failure that stopped the reading, once per read size.
    private func requestReadings(_ bytes: [UInt8]) -> [String] {
        Self.readSizes.map { size in
            let (requests, failure) = HTTPMessageReader.requests(in: bytes, readSize: min(size, max(1, bytes.count)),
                                                                 limits: Self.limits)
            return requests.map { "\($0.method) \($0.target) \($0.headers) \($0.body)" }.joined(separator: "\n")
                + "\n" + (failure.map { "\($0)" } ?? "end")
        }
    }

    private func responseReadings(_ bytes: [UInt8], answering method: String) -> [String] {
        Self.readSizes.map { size in
            switch HTTPMessageReader.response(in: bytes, answering: method, readSize: min(size, max(1, bytes.count)),
                                              maximumHeadBytes: Self.limits.maximumHeaderBytes,
                                              maximumBodyBytes: Self.limits.maximumBodyBytes) {
            case .success(let response): "\(response.status) \(response.headers) \(response.body)"
            case .failure(let failure): "\(failure)"
            }
        }
    }

    /// Found by fuzz-http-request: a head with no end whose first bare line feed is its 1024th byte.
    /// Read at once it was refused as malformed (the line feed), read in pieces as too large (the
    /// limit was checked on 1025 bytes, before the line feed could be seen).
    @Test func aBareLineFeedAtTheLimitOfAHeadWithNoEnd() {
        let input = FoundInputs.bareLineFeedAtTheLimit
        #expect(input.count == 1026)
        let readings = requestReadings(input)
        #expect(readings.allSatisfy { $0 == readings[0] }, "\(readings)")
        #expect(readings[0] == "\nmalformed(\"a line ends in LF without CR\")")
    }

    /// Found by fuzz-http-response: the same in a response head.
    @Test func aBareLineFeedAtTheLimitOfAResponseHeadWithNoEnd() {
        let input = FoundInputs.bareLineFeedAtTheLimitInAResponse
        #expect(input.count == 1029)
        for method in ["GET", "HEAD"] {
            let readings = responseReadings(input, answering: method)
            #expect(readings.allSatisfy { $0 == readings[0] }, "\(readings)")
            #expect(readings[0] == "malformed(\"a line ends in LF without CR\")")
        }
    }

    /// Found by fuzz-http-response: a response without Content-Length or chunked coding (its body
    /// runs to the end of the connection) with a body one byte over the limit. When the body came
    /// with the head in one read, the limit was never checked and the body was returned.
    @Test func aBodyToTheEndOfTheConnectionThatCameWithItsHeadIsHeldToTheLimit() {
        let input = FoundInputs.bodyOverTheLimitWithItsHead
        #expect(input.count == 2071)
        let get = responseReadings(input, answering: "GET")
        #expect(get.allSatisfy { $0 == "bodyTooLarge" }, "\(get)")
        let head = responseReadings(input, answering: "HEAD")
        #expect(head.allSatisfy { $0 == head[0] && $0.hasPrefix("200 ") }, "\(head)")
    }

    /// Found by fuzz-http-request once a seed had a chunk extension near 1 KiB: a chunk-size line
    /// of 1,024 bytes before its CRLF. Read at once it was accepted (its line feed was already there),
    /// read in pieces refused as too long.
    @Test func aChunkSizeLineOverTheLimitIsRefusedHoweverItArrives() {
        let input = FoundInputs.longChunkSizeLine
        #expect(input.count == 1073)
        #expect(requestReadings(input).allSatisfy { $0 == "\nmalformed(\"a line of a chunked body is too long\")" })
    }

    /// Found by fuzz-http-response: the same in a chunked response.
    @Test func aChunkSizeLineOverTheLimitIsRefusedHoweverItArrivesInAResponse() {
        let input = FoundInputs.longChunkSizeLineInAResponse
        #expect(input.count == 1071)
        let readings = responseReadings(input, answering: "GET")
        #expect(readings.allSatisfy { $0 == "malformed(\"a line of a chunked body is too long\")" }, "\(readings)")
    }

    /// The rule the first two inputs broke: a head of exactly the limit is read, and one a byte
    /// longer refused, however the bytes arrive (the limit was checked before the last 3 bytes of
    /// the blank line ending the head had arrived).
    @Test func aHeadOfExactlyTheLimitIsReadHoweverItArrives() {
        let start = "GET / HTTP/1.1\r\nX: "
        let head = start + String(repeating: "a", count: Self.limits.maximumHeaderBytes - start.utf8.count)
        #expect(requestReadings(Array((head + "\r\n\r\n").utf8)).allSatisfy { $0.hasSuffix("\nend") })
        #expect(requestReadings(Array((head + "a\r\n\r\n").utf8)).allSatisfy { $0 == "\nheadTooLarge" })
    }
}

/// The inputs as libFuzzer minimised them, in base64.
private enum FoundInputs {
    static let bareLineFeedAtTheLimit = bytes("""
        R0VUIC9tZXRyaWNzIEhUVFAvMS4xDQpIb3N0GzogbG9vc3Q5MDkwDQpBY2NlcFJhbmRvbU51bWL//////1RyYW5zZmVyLUVuY29k
        aW5nOiBjaHVua2Vk//////////////////////////////+i/////////////////////////////////3B0OiAqLyr/////////
        ////////VHJhbnNmZXItRW5jb2Rpbmc6IGNodW5rZWT/////////////////////////////////////////////////////////
        ////////////////RVQgL21ldHJpY3MgSFRUUC8xLjENCkhvc3QbVUludGNhbGhvc3Q6OWRpbmc6IGNodW5rZWT/////////////
        //////////////////////////////////////////////////9wdDogKi8q/////////////////1RyYW5zZmVyLUVuY29kaW5n
        OiBjaHVua2Vk//////////8AAQAAAAAAAAD//////////////////wAA////////////////////////////////////////////
        ////////////////BgD/////////////////////MDkwDQpBY2NlcHQ6ICovKv////////////////9lci1FbmNvZGluZzogY2h1
        bmtlZP////////////////////////////////////////////////////////////////////////9FVCAvbWV0cmljcyBIVFRQ
        LzEuMQ0KSG9zdBs6IGxvY2FsaG9zdDo5ZGluZzogY2h1bmtlZP///////////////////////////1RyYW5zZmVyLUVuY29kaW5n
        OiBjaHVua2Vk//////////8AAQAAAAAAAAD/////////////////////////////////////////////////////////////////
        //////////////////////8GAP///////////////1RyYW5zZmVyLUVuY29kaW5nOiBjaHVua2Vk////////////////////////
        /////////////////////////////////////////3B0OiAqLyr/////////////////VHJhbnNmZXItRW5jb2Rpbmc6IGNodW5r
        ZWT/////////////////////////////////////////////////////////////////////////////////////////////////
        //////8GAP//////////////////////////////////////BgD/////////DQ0KCg0K
        """)

    static let bareLineFeedAtTheLimitInAResponse = bytes("""
        SFRUUC8xLjEgMjAwIE9LDQpUcmFuc2Zlci1FbmNvZGluZzogSFRUUC8xLjEgNTAwIElTZXJ2ZXIgRXJyb3INCkNvbnRlbnQtVHlw
        ZTogdGV4dC94bWwNCkNvbjogdGV4SFRUUC8xLjEgNTAwIElTZXJ2ZXIgRXJyb3INCkNvdC1UeXBlOiB0ZXh0L3htbA0KQ29uOiB0
        ZXhIVFRvbjogdGV4SFRUUC8xLjEgNTAwIElTZXJ2ZXIgRXJyb3INCkNvdC1UeXBlOiB0ZXh0L3htbA0KQ29uOiB0ZXhIVFRQLzEu
        MSA1MDAgSVNlcnZlciBFcnJvcg0KQ29udGVudC1UeXBlOiB0ZXIgRXJyb3INCkNvdC1UeXBlOiB0ZXh0L3htMjIyMjIyMjIyMjIy
        MlAvMS4xIDUwMCBJU2VydmVycnJvcg0KQ29udGVudC1UeXBlOiB0ZXh0L3htbA0KQ29uOiB0ZXh0L3htbA0KQ29uZXh0L3htbA0K
        Q29uOiB0ZXh0L3htbA0KQ29udGWci9KzmpGY3mg6IDExDQowDQo8c29hcDpGbnRlbnQtVA0KQ29udGVudC1UeXBlOiB0ZQ0KbA0K
        Q29uOtd4dC94bWwNCkNvbjogdGV4SFRUUC90ZXh0L3htbA0KQ29uOiB0ZXhIVFRvbjpleFNlcXVlbmNlIFNlcnZlciBFcnJvcg0K
        Q290LVR5cGU6IHRleHQveG1sDQpDb246IHRleEhUVFAvMS4xIDUwMCBJU2VydmVyIEVycm9yDQpDb250ZW50LVR5cGU6IHRlciBF
        cnJvcg0KQ290LVR5cGU6IHRleHQveG0yMjIyMjIyMjIyMjJQLzEuMSA1MDAgSVNlcnZlciBFcnJvcg0KQ29udGVudC1UeXBlOiB0
        ZXh0L3htbA0KQ29uOiB0ZXh0L3htbA0KQ29uZXh0L3htbA0KQ29uOiB0ZXh0L3htbA0KQ29udGWci9KzmpGY3mg6IDExDQowDQo8
        c29hcDpGbnRlbnQtVHlwZTogdGV4dC94bWwNCkNvbjogdGV4dC94bWwNCkNvbnRlbnQtVHlwZTogdGUNCmwNCkNvbjrXeHQveG1s
        DQpDb246IHRleEhUVFAvMS4xIDUwMCBJU2VydmVyIEVycm9yDQpDb3QtVHlwZTogdGV4dC94bTIyMjIyMjIyMjIyMjJQLzEuMSA1
        MDAgSVNlcnZlciBFcnJvcg0KQ290LVSwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCw
        sLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwCmd0aAoN
        """)

    static let bodyOverTheLimitWithItsHead = bytes("""
        SFRUUC8xLjEgMjAwIG46a2VkDQoNCjQNCldpcHBwcHBwcHBwcHBwcHBwcHBwcOfn5+fn5+fn5+fn5+fn5+fn5+fnAAAAAAAAAAAA
        AFRyYW5zZmVyLUVuY29kaW5nOiBjaHVu5+fn5+fnU3Vic3RyaW7n5+fn5+fn5+fn/w0KV2lraQ0KNjt4PXkNCnBlZGlhDQpFAAAA
        AAAAAAAA/wD9//////8wMCBPSw0KVHJhbnNmZXItRW5jb2Rpbmc6IGNodW5rZWQQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBBh
        cDpGYXVsDQpIVFRQLzEuMQ0KNGtlZCBpbu/1DQpjaHVuY29kaW5nOiBjaHVua2VkIGlu7/UNCmNodW5rc2tzLg0KMA0uDQowDf//
        //////////////8NCldpa2kNCjY7eD15DQpwZWRpYQ0KRQAAAAAAAAAAAP8A/f//////ZBAQEBAQEBAQEBBDaGFyYWMQEBAQEBAQ
        EBAQEGFwOkZhdWwNCkhUVFAvMS4xDQo0a2VkIGlu7/UNCgAAAAAAAAAAAAAA5+fn5+fn5+fn5+fn5+fn5+fn5wAAAAD9////AAAA
        AEV4cGVjdDogMTAwLWNvbnRpbnVlAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        AAAAAFRyYW5zZmVyLUVuY29kaW5nOiBjaHVu5+fn5+fnU3Vic3RyaW7n5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn
        5+cAAFQxL0hUVFAvMS4xIDIwMCBPSw0KVHJhbnNmZXItRW5jb2Rpbmc6IGNodW5rZWQQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ
        EBBhcDpGYXVsDQpIVFRQLzEuMQ0KNGtlZCBpbu/1DQpjaHVuY29kaW5nOiBjaHVua2VkIGlu7/UNClN0cmluZ2tzLg0KMA0uDQow
        Df////////////////8NCldpa2kNCjY7eD15DQpwZWRhDQpFAAAAAAAAAAAA/wD9//////9kEBAQEBAQEBAQEBAQEBAQEBAQEBAQ
        EBAQEBAQYXA6RmF1bA0KSFRUUC8xLjENCjRrZWQgaW7v9Q0KY2h1bmNvZGluZzogY2h1bmtlZCBpbu/1DQpjaHVua3Nrcy4NCjAN
        Lg0KMA3/////////////////DQpXaWtpDQo2O3g9eQ0KcGVkaWENCkUAAAAAAAAAAAD/AP3//////3VsDQpIVFRQLzEuMQ0KNGtl
        ZCBpbu/1DQpjaHVuY29kaW5nOiBjaHVua2VkIGlu7/UNCmNodW5rc2tzLg0KMA0uDQowDf////////////////8NCldpa2kNCjY7
        eD15DQpwZWRpYQ0KRQAAAAAAAAAAAP8A/f//////Njt4PXkNCnBlZGlhDQpFAAAAAAAAAAAA/wD9//////8AAAAAY29kaW5nOiBj
        aHVua2VkIGlu7/UNCmNodW5rc2tzLg0KMA0uDQowDf////////////////8NCldpa2kNCjY7eD15DQpwZWRpYQ0KRQAAAAAAAAAA
        AP8A/f//////dWwNCkhUVFAvMS4xDQo0a2VkIGlu7/UNCmNodW5jb2Rpbmc6IGNodW5rZWQgaW7v9Q0KY2h1bmtza3MuDQowDS4N
        CjAN/////////////////w0KV2lraQ0KNjt4PXkNCnBlZGlhDQpFAAAAAAAAAAAA/wD9//////8NCkhUVFAvMS4xDQo0a2VkIGlu
        7/UNCgAAAAAAAAAAAAAA5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn
        5+fn5+cAAAAA/f///wAAAABFeHBlY3Q6IDEwMC1jb250aW51ZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        AAAAAAAAAAAAAAAAAAAAAAAAAABUcmFuc2Zlci1FbmNvZGluZzogY2h1bufn5+fn51N1YnN0cmlu5+fn5+fn5+fn5+fn5+fn5+fn
        5+fn5+fn5+fn5+fn5+fn5+fnAABUMS9IVFRQLzEuMSAyMDAgT0sNClRyYW5zZmVyLUVuY29kaW5nOiBjaHVua2VkEBAQEBAQEBAQ
        EBAQEBAQEBAQEBAQEBAQEBAQYXA6RmF1bA0KSFRUUC8xLjENCjRrZWQgaW7v9Q0KY2h1bmNvZGluZzogY2h1bmtlZCBpbu/1DQpj
        aHVua3Nrcy4NCjANLg0KMA3/////////////////DQpXaWtpDQo2O3g9eQ0KcGVkYQ0KRQAAAAAAAAAAAP8A/f//////ZBAQEBAQ
        EBAQEBAQEBAQEBAQEBAQEBAQEBAQEGFwOkZhdWwNCkhUVFAvMS4xDQo0a2VkIGlu7/UNCmNodW5jb2Rpbmc6IGNodW5rZWQgaW7v
        9Q0KY2h1bmtza3MuDQowDS4NCjAN/////////////////w0KV2lraQ0KNjt4PXkNCnBlZGlhDQpFAAAAAAAAAAAA/wD9//////91
        bA0KSFRUUC8xLjENCjRrZWQgaW7v9Q0KY2h1bmNvZGluZzogY2h1bmtlZCBpbu/1DQpjaHVua3Nrcy4NCjANLg0KMA3/////////
        ////////DQpXaWtpDQo2O3g9eQ0KcGVkaWENCkUAAAAAAAAAAAD/AP3//////w==
        """)

    static let longChunkSizeLine = bytes("""
        T1NUIC8gSFRUUC8xLjENClRyYW5zZmVyLUVuY29kaW5nOiBjaHVua2VkDQoNCjM7eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eIYDAAAAAAAAeHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eP//////////eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eP////8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAeHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHgNCgo=
        """)

    static let longChunkSizeLineInAResponse = bytes("""
        SFRUUC8xLjEgMjAwIA0KVHJhbnNmZXItRW5jb2Rpbmc6IGNodW5rZWQNCg0KMzt4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHgAAHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4U3RyeHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHiBAAAB////////////////////////////////////////////////////////
        /////////////////////////////////////////////////////////////////////////////////3h4eHh4eHh4eHh4eHh4
        eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
        eHh4eHhVbnNhZmVNT2JqZWN0Yw0K
        """)

    private static func bytes(_ base64: String) -> [UInt8] {
        Array(Data(base64Encoded: base64, options: .ignoreUnknownCharacters) ?? Data())
    }
}
