/// The metadata keys of the product's log lines, one name each everywhere, so that a log shipper's
/// queries (and a person's grep) find every line about a request.
///
/// HTTPTransport and AMQPClient, libraries that know nothing of the product, use the same names for
/// the keys they share with it (`peer`, `reason`, `error`).
///
/// Patient data never goes in a value unmasked: an NHS number is logged as `NHSNumber.masked`
/// (and ``LineLogHandler`` masks any that slips through).
public enum LogKey {
    /// The request's id (the AMQP `message_id` the EPR chose).
    public static let request = "request"
    /// A masked NHS number ("*** *** 5919").
    public static let nhsNumber = "nhs_number"
    /// A lookup's outcome: records-found, no-record, rejected, failed, expired.
    public static let outcome = "outcome"
    /// Why a lookup failed or was refused (the contract's error kind).
    public static let kind = "kind"
    /// A human-readable reason.
    public static let reason = "reason"
    /// How many SMSP attempts a lookup has had.
    public static let attempts = "attempts"
    /// The lookup lane: triage or batch.
    public static let lane = "lane"
    /// The other end of a network exchange: a client's address, or a server's host and port.
    public static let peer = "peer"
    /// An error's description.
    public static let error = "error"
    /// The front door's caller: its client certificate's common name, or its address.
    public static let client = "client"
    /// The ITK tracking id of an SMSP message (the front door's callers).
    public static let trackingID = "tracking_id"
}
