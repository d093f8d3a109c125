import CPISDomain

/// The NHS test tool's CP-IS simulator answers by NHS number (wire format, section 6); ours answers
/// the same way, with the same codes and display names as its response templates (which are
/// reference data: read in the tests, never copied here).
enum TestToolTriggers {
    static let answers: [String: ResponseCode] = [
        "1111111111": .inputValidationError,
        "2222222222": .responseValidationError,
        "3333333333": .localStoreOnly,
        "4444444444": .spineUnavailable,
        "5555555555": .authorCredentialsError,
        "6666666666": .softwareFailure,
        "7777777777": .cpisServiceError,
        "8888888888": .noMatch,
    ]
}
