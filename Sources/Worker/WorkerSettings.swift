import Foundation

/// How a worker behaves (`Config/worker.yaml`, overridden by `CPIS_*` environment variables).
public struct WorkerSettings: Sendable {
    public var topology = WorkerTopology()
    /// At most this many SMSP calls in flight per worker process.
    public var maximumInFlight = 32
    /// Slots only triage lookups may use, so a batch never makes triage wait.
    public var reservedForTriage = 8
    /// SMSP attempts per lookup, the first included.
    public var maximumAttempts = 5
    /// Timeout of one SMSP call (shortened to the request's deadline).
    public var smspTimeout: Duration = .seconds(10)
    /// A lookup is sent only with at least this long left before its deadline; otherwise it is
    /// answered `expired`, nothing sent. A call with less left than the upstream's normal answer time
    /// almost never comes back in time, yet still tells a local authority of an access no clinician
    /// will see. Set per upstream (`smsp.minimumCallTimeMs`, `spine.minimumCallTimeMs`).
    public var minimumCallTime: Duration = WorkerConfiguration.smspMinimumCallTime
    public var maximumBodyBytes = 64 * 1024
    public var authorisation = Authorisation(odsCodesByUser: nil)
    public var breakerFailureThreshold = 5
    public var breakerCoolDown: Duration = .seconds(5)
    public var breakerMaximumCoolDown: Duration = .seconds(60)
    /// On SIGTERM: how long in-flight lookups may take to finish before they go back to the queue.
    public var shutdownGracePeriod: Duration = .seconds(20)
    /// Whether a query that may have reached CP-IS without an answer (a timeout, a reset after
    /// sending, a worker stopped mid-call) is asked again. Each query notifies the local authority,
    /// so the Spine leg does not unless `spine.retryAfterPossibleProcessing` says so (set from
    /// ``WorkerConfiguration/SpineSettings``); another SMSP answers for its own retries.
    public var retryQueriesThatMayHaveReachedCPIS = true
    /// How many answered request ids to remember, so a redelivery is never answered twice.
    public var rememberedRequests = 100_000

    public init() {}
}
