import CPISDomain

/// The NHS test tool's CP-IS simulator answers by NHS number (wire format, section 6); ours answers
/// the same way, with the same codes and display names as its response templates (which are
/// reference data: read in the tests, never copied here).
enum TestToolTriggers {
    static let answers: [String: ResponseCode] = [
        "1111111111": ResponseCode(code: "SMSP-0001", displayName: "Input message validation error"),
        "2222222222": ResponseCode(code: "SMSP-0002", displayName: "Response message validation error"),
        // The test tool's own wording for SMSP-0003, kept as it is.
        "3333333333": ResponseCode(code: "SMSP-0003", displayName: "No Match (NRF)"),
        "4444444444": ResponseCode(code: "SMSP-0004", displayName: "Could not connect to spine"),
        "5555555555": ResponseCode(code: "SMSP-0005", displayName: "Author Credentials Error"),
        "6666666666": ResponseCode(code: "SMSP-9999", displayName: "Spine mini service provider software failure"),
        "7777777777": ResponseCode(code: "CPIS-9999", displayName: "CP-IS Spine Service Error"),
        "8888888888": noMatch,
    ]

    static let noMatch = ResponseCode(code: "CPIS-0001", displayName: "No Match (NRF)")
    static let success = ResponseCode(code: "SMSP-0000", displayName: "Success")
    static let inputValidationError = ResponseCode(code: "SMSP-0001", displayName: "Input message validation error")
}
