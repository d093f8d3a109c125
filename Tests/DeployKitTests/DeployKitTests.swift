import Foundation
import FrontDoor
import Testing
import Worker
import Yams

/// The deploy kit (`Deploy/`) agrees with the worker: stop timeouts with its grace period, probes
/// and scrape with its monitoring settings, the scaling cap with its concurrency and the SMSP's
/// allowance, the secrets it reads with what the platform provides, the alerts with the metrics it
/// exports, and the definitions file with the topology it declares. Offline: files only.
@Suite("the deploy kit agrees with the worker")
struct DeployKitTests {
    static let kubernetesBase = "Deploy/kubernetes/base"
    static let unitFile = "Deploy/systemd/cpis-worker@.service"
    static let systemdSettings = "Deploy/systemd/worker-example.yaml"
    /// The annotation on the ScaledObject: the most SMSP calls the deployment may have in flight.
    static let allowanceAnnotation = "cpis.nhs.uk/smsp-max-concurrent-calls"
    /// Time the worker needs after its grace period: handing held requests back, closing connections.
    static let stopMargin = 10.0

    /// The workers in the cluster: the Deployment, its container, and the settings it runs with.
    struct Cluster {
        let base: KustomizeBase
        let workload: Workload
        let configuration: WorkerConfiguration
        var deployment: Node { workload.deployment }
        var pod: Node { workload.pod }
        var container: Node { workload.container }
        var settings: Node { workload.settings }
        var environment: [String: String] { workload.environment }

        init() async throws {
            base = try KustomizeBase.load(DeployKitTests.kubernetesBase)
            workload = try Workload(base, deployment: "cpis-worker")
            configuration = try await loadWorkerSettings(workload.settingsText, environment: workload.environment,
                                                         placeholderPassword: true)
        }
    }

    /// The systemd unit and the example settings of one instance, loaded as the worker would.
    static func systemdInstance() async throws -> SystemdService<WorkerConfiguration> {
        try await SystemdService(unitFile: unitFile, settingsFile: systemdSettings) {
            try await loadWorkerSettings($0, environment: $1)
        }
    }

    // MARK: - Stopping

    @Test("systemd waits longer than the grace period plus 10 s, with one SIGTERM, then SIGKILL")
    func systemdStop() async throws {
        let instance = try await Self.systemdInstance()
        let unit = instance.unit
        let grace = instance.configuration.worker.shutdownGracePeriod.inSeconds
        let timeout = try #require((unit.value("Service", "TimeoutStopSec") ?? unit.value("Service", "TimeoutSec"))
            .flatMap(SystemdUnit.seconds), "TimeoutStopSec is set to a finite time")
        #expect(timeout > grace + Self.stopMargin,
                "TimeoutStopSec \(timeout) s must exceed the grace period \(grace) s plus \(Self.stopMargin) s")
        #expect((unit.value("Service", "KillSignal") ?? "SIGTERM") == "SIGTERM", "the worker drains on SIGTERM")
        // A second SIGTERM would stop the worker at once: none before the timeout, SIGKILL after it.
        #expect(unit.values("Service", "ExecStop").isEmpty, "no ExecStop: its timeout would send SIGTERM again")
        #expect(unit.value("Service", "TimeoutStopFailureMode") != "abort", "the timeout ends with SIGKILL, not an abort")
        #expect(unit.value("Service", "SendSIGKILL") != "no", "SIGKILL after the timeout, not SIGTERM again")
        #expect(unit.value("Service", "WatchdogSec") == nil, "the worker does not notify a watchdog")
        #expect(unit.value("Service", "KillMode") != "none")
        let restart = try #require(unit.value("Service", "Restart"), "a restart policy")
        #expect(restart != "no")
    }

    @Test("Kubernetes waits longer than the grace period plus 10 s before SIGKILL")
    func kubernetesStop() async throws {
        let cluster = try await Cluster()
        let grace = cluster.configuration.worker.shutdownGracePeriod.inSeconds
        let period = try #require(cluster.pod["terminationGracePeriodSeconds"].int, "terminationGracePeriodSeconds is set")
        #expect(Double(period) > grace + Self.stopMargin,
                "terminationGracePeriodSeconds \(period) must exceed the grace period \(grace) s plus \(Self.stopMargin) s")
        #expect(cluster.container["lifecycle"]["preStop"].isMissing, "no preStop hook delaying or doubling the SIGTERM")
    }

    // MARK: - The worker as a service

    @Test("systemd runs the worker as a non-root user on a per-instance settings file")
    func systemdService() async throws {
        let instance = try await Self.systemdInstance()
        let unit = instance.unit
        let user = try #require(unit.value("Service", "User"), "a User of its own")
        #expect(!["root", "0"].contains(user))
        let start = try #require(unit.value("Service", "ExecStart"))
        #expect(start.hasPrefix("/usr/local/bin/cpis worker --config /etc/cpis/worker-%i.yaml"), "ExecStart: \(start)")
        #expect(instance.configuration.worker.topology == WorkerTopology(),
                "the example settings use the contract's topology (Deploy/rabbitmq-definitions.json)")
    }

    @Test("every file systemd's worker reads as a secret is a credential, in %d")
    func systemdCredentials() async throws {
        let instance = try await Self.systemdInstance()
        let unit = instance.unit
        let credentials = unit.credentials
        let environment = unit.environment
        for setting in FileSetting.worker {
            guard let path = setting.path(settings: instance.settings, environment: environment) else {
                #expect(!setting.required, "\(setting.name) is named")
                continue
            }
            if path.hasPrefix("%d/") {
                let name = String(path.dropFirst(3))
                #expect(credentials[name] != nil, "\(setting.name) reads \(path): needs LoadCredential=\(name):...")
                #expect(credentials[name]?.hasPrefix("/") == true, "LoadCredential \(name) names an absolute source")
            } else {
                #expect(!setting.secret, "\(setting.name) is a secret: it must come from the credentials directory (%d), not \(path)")
            }
        }
        // Every credential loaded is one the worker reads.
        let read = Set(FileSetting.worker.compactMap { $0.path(settings: instance.settings, environment: environment) })
        for name in credentials.keys {
            #expect(read.contains("%d/\(name)"), "LoadCredential \(name) is read by no setting")
        }
    }

    @Test("the Deployment runs at least 2 replicas, probed on the health endpoints of the monitoring port")
    func deploymentProbes() async throws {
        let cluster = try await Cluster()
        let replicas = try #require(cluster.deployment["spec"]["replicas"].int, "spec.replicas is set")
        #expect(replicas >= 2)

        let monitoring = MonitoringSettings(cluster.settings)
        #expect(monitoring.port == 9464, "monitoring.port in the cluster's settings")
        #expect(monitoring.host == "0.0.0.0", "the kubelet and Prometheus reach the pod's address, not its loopback")
        let port = try #require(cluster.container["ports"].array.first { $0["name"].string == "monitoring" },
                                "a container port named monitoring")
        #expect(port["containerPort"].int == monitoring.port)

        for (probe, path) in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")] {
            let get = cluster.container[probe]["httpGet"]
            #expect(get["path"].string == path, "\(probe) GETs \(path)")
            #expect(get["port"].string == "monitoring" || get["port"].int == monitoring.port,
                    "\(probe) uses the monitoring port")
        }
        #expect(cluster.configuration.worker.topology == WorkerTopology(),
                "the cluster's settings use the contract's topology (Deploy/rabbitmq-definitions.json)")
        #expect(cluster.settings["logging"]["format"].string == "json", "json logs for the cluster's log collector")
    }

    @Test("Prometheus scrapes GET /metrics on the monitoring port")
    func scrape() async throws {
        let cluster = try await Cluster()
        let monitors = cluster.workload.selecting("PodMonitor")
        try #require(monitors.count == 1, "one PodMonitor selects the workers' pods")
        let endpoints = monitors[0]["spec"]["podMetricsEndpoints"].array
        #expect(endpoints.contains { $0["port"].string == "monitoring" && ($0["path"].string ?? "/metrics") == "/metrics" })
    }

    @Test("every file the cluster's worker reads comes from a volume; secrets only from a Secret, none in git")
    func kubernetesSecrets() async throws {
        let cluster = try await Cluster()
        for setting in FileSetting.worker {
            guard let path = setting.path(settings: cluster.settings, environment: cluster.environment) else {
                #expect(!setting.required, "\(setting.name) is named")
                continue
            }
            let file = try #require(MountedFile(path: path, container: cluster.container, pod: cluster.pod),
                                    "\(setting.name) = \(path) is mounted from a volume")
            #expect(file.listed, "\(setting.name) = \(path): the volume's items list it")
            switch file.source {
            case .secret: break
            case .configMap(let name): #expect(!setting.secret, "\(setting.name) is a secret, not from ConfigMap \(name)")
            case .other: Issue.record("\(setting.name) = \(path) comes from neither a Secret nor a ConfigMap")
            }
        }

        // Nothing secret in a ConfigMap, nor any Secret's value in the base.
        for (name, data) in cluster.base.configMaps {
            for (key, content) in data {
                #expect(!content.contains("PRIVATE KEY") && !content.contains("-----BEGIN"),
                        "ConfigMap \(name) key \(key) holds no key or certificate")
            }
        }
        let brokerURL = try #require(cluster.settings["broker"]["url"].string.flatMap(URLComponents.init(string:)))
        #expect(brokerURL.password == nil, "no password in broker.url")
        #expect(brokerURL.scheme == "amqps", "the broker over TLS")
        #expect(cluster.settings["smsp"]["endpoint"].string?.hasPrefix("https://") == true, "the SMSP over mutual TLS")
        for secret in cluster.base.objects(kind: "Secret") {
            #expect(secret["data"].isMissing && secret["stringData"].isMissing,
                    "Secret \(secret["metadata"]["name"].string ?? "?") carries values in git")
        }
        #expect(cluster.container["envFrom"].isMissing, "no environment imported wholesale")
    }

    @Test("kustomization.yaml's comment creates every Secret the Deployments mount, with the keys they list")
    func secretInstructions() throws {
        let base = try KustomizeBase.load(Self.kubernetesBase)
        let commands = secretCommands(inCommentsOf: try Kit.text("\(Self.kubernetesBase)/kustomization.yaml"))
        #expect(commands["cpis-keda-rabbitmq"] == ["host", "username", "password"], "the command reader itself: \(commands)")
        let names = base.objects(kind: "Deployment").compactMap { $0["metadata"]["name"].string }
        #expect(Set(names) == ["cpis-worker", "cpis-front-door"])
        for name in names {
            let workload = try Workload(base, deployment: name)
            #expect(!workload.secretItems.isEmpty, "\(name) mounts a Secret")
            for (secret, keys) in workload.secretItems {
                let created = try #require(commands[secret], "kustomization.yaml tells how to create \(secret)")
                #expect(created == keys, "\(secret): the command creates \(created.sorted()), \(name) lists \(keys.sorted())")
            }
        }
    }

    // MARK: - Scaling

    @Test("KEDA scales on both lookup queues through the management API, within the SMSP's allowance")
    func scaling() async throws {
        let cluster = try await Cluster()
        let scaledObjects = cluster.base.objects(kind: "ScaledObject")
        try #require(scaledObjects.count == 1, "one ScaledObject")
        let scaledObject = scaledObjects[0]
        let spec = scaledObject["spec"]
        #expect(spec["scaleTargetRef"]["name"].string == cluster.deployment["metadata"]["name"].string)
        #expect((spec["scaleTargetRef"]["kind"].string ?? "Deployment") == "Deployment")

        let maxInFlight = cluster.configuration.worker.maximumInFlight
        let allowance = try #require(scaledObject["metadata"]["annotations"][Self.allowanceAnnotation].int,
                                     "the SMSP allowance, annotation \(Self.allowanceAnnotation)")
        let maxReplicas = try #require(spec["maxReplicaCount"].int, "maxReplicaCount is set")
        let minReplicas = try #require(spec["minReplicaCount"].int, "minReplicaCount is set (KEDA's default is 0)")
        #expect(minReplicas >= 2)
        #expect(minReplicas <= maxReplicas)
        #expect(cluster.deployment["spec"]["replicas"].int.map { $0 <= maxReplicas } == true)
        #expect(maxReplicas * maxInFlight <= allowance,
                "\(maxReplicas) replicas × maxInFlight \(maxInFlight) exceeds the SMSP allowance \(allowance)")

        // A rollout or a node drain: no surge, one replacement at a time (minReadySeconds longer than
        // the grace period), so at most one old pod is still finishing its calls beside the others.
        let rolling = cluster.deployment["spec"]["strategy"]["rollingUpdate"]
        let surge = try #require(rolling["maxSurge"].int, "maxSurge is a number of pods")
        #expect(surge == 0, "a rollout adds no replica beyond maxReplicaCount")
        let grace = cluster.configuration.worker.shutdownGracePeriod.inSeconds
        #expect(Double(cluster.deployment["spec"]["minReadySeconds"].int ?? 0) >= grace,
                "minReadySeconds at least the grace period: one old pod draining at a time")
        #expect((maxReplicas + surge + 1) * maxInFlight <= allowance,
                "with one old pod still finishing its calls, \(maxReplicas + surge + 1) × \(maxInFlight) exceeds \(allowance)")
        let budgets = cluster.workload.selecting("PodDisruptionBudget")
        try #require(budgets.count == 1, "a PodDisruptionBudget for the workers")
        #expect(budgets[0]["spec"]["maxUnavailable"].int == 1, "drains stop one worker at a time")

        let triggers = spec["triggers"].array
        let topology = cluster.configuration.worker.topology
        #expect(Set(triggers.compactMap { $0["metadata"]["queueName"].string }) == [topology.triage, topology.batch])
        for trigger in triggers {
            let metadata = trigger["metadata"]
            let queue = metadata["queueName"].string ?? "?"
            #expect(trigger["type"].string == "rabbitmq", "\(queue): the RabbitMQ scaler")
            #expect(metadata["protocol"].string == "http", "\(queue): the management API counts unacknowledged messages")
            #expect(metadata["excludeUnacknowledged"].string != "true", "\(queue): unacknowledged messages count")
            #expect((metadata["mode"].string ?? "QueueLength") == "QueueLength", "\(queue): scales on the backlog")
            #expect(metadata["useRegex"].string != "true", "\(queue): names its queue")
            #expect(metadata["host"].isMissing, "\(queue): the host and credentials come from the TriggerAuthentication")
            let authentication = try #require(trigger["authenticationRef"]["name"].string, "\(queue): authenticationRef")
            let triggerAuthentication = try #require(cluster.base.object(kind: "TriggerAuthentication", name: authentication),
                                                     "TriggerAuthentication \(authentication) is in the base")
            let parameters = triggerAuthentication["spec"]["secretTargetRef"].array
            #expect(parameters.contains { $0["parameter"].string == "host" && $0["name"].string != nil },
                    "\(authentication) takes the management API's host from a Secret")
        }
    }

    // MARK: - Alerts

    /// Where the worker makes its metrics: label → kind, read from the code (histograms add
    /// _bucket, _sum, _count), so that a renamed metric fails the alert rules' test.
    static let workerMetricsSources = ["Sources/Worker/Monitoring/WorkerMetrics.swift", "Sources/Worker/SpineClient.swift"]
    static let workerMetrics: [String: String] = workerMetricsSources.reduce(into: [:]) { metrics, path in
        metrics.merge((try? SwiftSource.metrics(in: Kit.text(path))) ?? [:]) { first, _ in first }
    }
    /// Metrics from elsewhere the rules may use: kube-state-metrics' pod readiness.
    static let externalMetrics: Set = ["kube_pod_status_ready"]

    static func isWorkerMetric(_ name: String) -> Bool {
        if workerMetrics[name] != nil { return true }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            if workerMetrics[String(name.dropLast(suffix.count))] == "histogram" { return true }
        }
        return false
    }

    @Test("the alert rules use the worker's metrics, and tell the on-call engineer what to do")
    func alerts() throws {
        for (metric, kind) in [("cpis_lookups_total", "counter"), ("cpis_lookup_duration_seconds", "histogram"),
                               ("cpis_slots_in_use", "gauge"), ("cpis_spine_schema_findings_total", "counter")] {
            #expect(Self.workerMetrics[metric] == kind, "read from \(Self.workerMetricsSources): \(Self.workerMetrics)")
        }
        let base = try KustomizeBase.load(Self.kubernetesBase)
        let rules = base.objects(kind: "PrometheusRule").flatMap { $0["spec"]["groups"].array }.flatMap { $0["rules"].array }
        let alerts = rules.filter { !$0["alert"].isMissing }
        var metricsByAlert: [String: Set<String>] = [:]
        for alert in alerts {
            let name = alert["alert"].string ?? "?"
            let expression = try #require(alert["expr"].string, "\(name) has an expression")
            let metrics = PromQL.metricNames(in: expression)
            #expect(!metrics.isEmpty, "\(name) reads a metric")
            for metric in metrics {
                #expect(Self.isWorkerMetric(metric) || FrontDoorKit.isMetric(metric) || Self.externalMetrics.contains(metric),
                        "\(name) uses \(metric), which neither the worker nor the front door exports")
            }
            metricsByAlert[name] = metrics
            #expect((alert["annotations"]["summary"].string ?? "").count >= 20, "\(name) has a summary")
            #expect((alert["annotations"]["description"].string ?? "").count >= 200,
                    "\(name) has a description saying what it means and what to do")
            #expect(["critical", "warning"].contains(alert["labels"]["severity"].string ?? ""), "\(name) has a severity")
        }
        #expect(PromQL.metricNames(in: "histogram_quantile(0.95, sum by (le) (rate(a_bucket{x=\"y\"}[5m]))) > 1 and on (pod) b")
                == ["a_bucket", "b"], "the metric name reader itself")

        let required: [(alert: String, metric: String)] = [
            ("CPISDeadLettersGrowing", "cpis_dead_letters_total"),
            ("CPISCircuitBreakerOpen", "cpis_circuit_breaker_state"),
            ("CPISTriageLatencyHigh", "cpis_lookup_duration_seconds_bucket"),
            ("CPISWorkerNotReady", "kube_pod_status_ready"),
        ]
        for (alert, metric) in required {
            #expect(metricsByAlert[alert]?.contains(metric) == true, "alert \(alert) on \(metric)")
        }
        let latency = try #require(alerts.first { $0["alert"].string == "CPISTriageLatencyHigh" }?["expr"].string)
        #expect(latency.contains("lane=\"triage\""), "the latency alert is about triage")
    }

    // MARK: - Image

    @Test("the image runs as a non-root user, with the time zones, on the settings file the Deployment mounts")
    func image() async throws {
        let containerfile = try Kit.text("Deploy/container/Containerfile")
        let lines = containerfile.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2 && stages.last == "FROM debian:bookworm-slim", "a build stage, then bookworm-slim")
        // The runtime stage's `apt-get install` lines, as words.
        let runtime = lines.drop { $0 != stages.last }
        let installed = Set(runtime.filter { $0.contains("apt-get") && $0.contains(" install ") }
            .flatMap { $0.split(separator: " ").map(String.init) })
        for package in ["librabbitmq4", "libxml2", "libssl3", "tzdata", "ca-certificates"] {
            #expect(installed.contains(package), "the runtime image installs \(package)")
        }
        let user = try #require(lines.last { $0.hasPrefix("USER ") }).dropFirst(5)
        #expect(!["root", "0", "0:0"].contains(user) && user.first?.isNumber == true, "a numeric non-root USER")
        #expect(lines.contains("ENTRYPOINT [\"/usr/local/bin/cpis\"]"))
        #expect(lines.contains("CMD [\"worker\", \"--config\", \"/etc/cpis/worker.yaml\"]"))
        let cluster = try await Cluster()
        #expect(cluster.pod["securityContext"]["runAsUser"].int.map { "\($0):\($0)" } == String(user),
                "the Deployment runs as the image's user")
    }

    // MARK: - Broker definitions

    @Test("Deploy/rabbitmq-definitions.json declares what the worker declares")
    func definitions() throws {
        let topology = WorkerTopology()
        let committed = try Definitions(json: Kit.text("Deploy/rabbitmq-definitions.json"))
        let declared = try Definitions(json: topology.definitionsJSON())
        let regenerate = "regenerate it: .build/debug/cpis topology > Deploy/rabbitmq-definitions.json"
        #expect(Set(committed.queues) == Set(declared.queues), "queues: \(regenerate)")
        #expect(Set(committed.exchanges) == Set(declared.exchanges), "exchanges: \(regenerate)")
        #expect(Set(committed.bindings) == Set(declared.bindings), "bindings: \(regenerate)")

        // And that is the contract's topology (docs/message-contract.md).
        let queues = Dictionary(committed.queues.map { ($0.name, $0) }) { first, _ in first }
        let exchanges = Dictionary(committed.exchanges.map { ($0.name, $0) }) { first, _ in first }
        let bindings = Set(committed.bindings.map { "\($0.source) -> \($0.destination) [\($0.routingKey)]" })
        let retryNames = topology.retryDelays.indices.map { topology.retryName(step: $0) }
        #expect(Set(queues.keys) == Set([topology.triage, topology.batch, topology.dead, topology.unanswered,
                                         topology.results, topology.audit] + retryNames))
        for queue in committed.queues {
            #expect(queue.arguments["x-queue-type"] == .string("quorum"), "\(queue.name) is a quorum queue")
            #expect(queue.durable && !queue.autoDelete, "\(queue.name) is durable")
        }
        for name in [topology.triage, topology.batch] {
            let arguments = try #require(queues[name]).arguments
            #expect(arguments["x-delivery-limit"] == .int(topology.deliveryLimit), "\(name): delivery limit")
            #expect(arguments["x-dead-letter-exchange"] == .string(topology.deadLetterExchange), "\(name): dead letters")
            #expect(arguments["x-dead-letter-strategy"] == .string("at-least-once"), "\(name): dead-lettered at least once")
            #expect(arguments["x-message-ttl"] == nil, "\(name): requests expire by their own expiration only")
        }
        #expect(exchanges[topology.deadLetterExchange]?.type == "fanout")
        #expect(bindings.isSuperset(of: ["\(topology.deadLetterExchange) -> \(topology.dead) []",
                                         "\(topology.deadLetterExchange) -> \(topology.unanswered) []"]),
                "dead letters are parked and answered")
        #expect(exchanges[topology.accessExchange]?.type == "topic")
        #expect(bindings.contains("\(topology.accessExchange) -> \(topology.audit) [#]"), "the audit queue gets every notification")
        for (step, delay) in topology.retryDelays.enumerated() {
            let name = topology.retryName(step: step)
            let arguments = try #require(queues[name], "retry queue \(name)").arguments
            #expect(arguments["x-message-ttl"] == .int(delay.inMilliseconds), "\(name) holds a message \(delay)")
            #expect(arguments["x-dead-letter-exchange"] == .string(""),
                    "\(name) sends it back through the default exchange, to the queue it came from")
            #expect(arguments["x-dead-letter-routing-key"] == nil, "\(name) keeps the message's routing key")
            #expect(exchanges[name]?.type == "fanout", "retry exchange \(name)")
            #expect(bindings.contains("\(name) -> \(name) []"), "\(name) is bound to its exchange")
        }
    }
}

// MARK: - The front door

/// The front door's metrics and answers, read from its source (`FrontDoorMetrics` is internal to
/// its module), so that the alert rules are checked against what it really exports.
enum FrontDoorKit {
    static let metricsSource = "Sources/FrontDoor/FrontDoorMetrics.swift"
    /// Name → kind (histograms add _bucket, _sum, _count).
    static let metrics: [String: String] = (try? SwiftSource.metrics(in: Kit.text(metricsSource))) ?? [:]
    /// The values of cpis_front_door_requests_total's `answer` label.
    static let answers: [String] = (try? SwiftSource.strings(of: "answers", in: Kit.text(metricsSource))) ?? []

    static func isMetric(_ name: String) -> Bool {
        if metrics[name] != nil { return true }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            if metrics[String(name.dropLast(suffix.count))] == "histogram" { return true }
        }
        return false
    }
}

/// The deploy kit agrees with the front door (`cpis front-door`): stop timeouts with its patience,
/// probes and scrape with its monitoring settings, the Service with how it recognises resends, the
/// files it reads with what the platform provides, its settings with the documented keys and the
/// workers' authorisation, and the alerts with the metrics it exports. Offline: files only.
@Suite("the deploy kit agrees with the front door")
struct FrontDoorDeployKitTests {
    static let unitFile = "Deploy/systemd/cpis-front-door.service"
    static let systemdSettings = "Deploy/systemd/front-door-example.yaml"
    static let clusterSettings = "\(DeployKitTests.kubernetesBase)/front-door.yaml"
    static let documentedSettings = "Config/front-door.yaml"
    static let deploymentName = "cpis-front-door"
    static let secretName = "cpis-front-door-secrets"
    /// Time the front door needs after its queries have ended: closing the broker connection.
    static let stopMargin = 10.0

    /// The front doors in the cluster: the Deployment, its container, and the settings it runs with.
    struct Cluster {
        let workload: Workload
        let configuration: FrontDoorConfiguration
        var base: KustomizeBase { workload.base }
        var pod: Node { workload.pod }
        var container: Node { workload.container }
        var settings: Node { workload.settings }

        init() async throws {
            workload = try Workload(try KustomizeBase.load(DeployKitTests.kubernetesBase),
                                    deployment: FrontDoorDeployKitTests.deploymentName)
            configuration = try await loadFrontDoorSettings(workload.settingsText, environment: workload.environment,
                                                            placeholderPassword: true)
        }
    }

    /// The systemd unit and the example settings, loaded as the front door would.
    static func systemdHost() async throws -> SystemdService<FrontDoorConfiguration> {
        try await SystemdService(unitFile: unitFile, settingsFile: systemdSettings) {
            try await loadFrontDoorSettings($0, environment: $1)
        }
    }

    // MARK: - Stopping

    @Test("systemd waits longer than the callers' patience plus 10 s, with one SIGTERM, then SIGKILL")
    func systemdStop() async throws {
        let host = try await Self.systemdHost()
        let unit = host.unit
        let patience = host.configuration.patience.inSeconds
        let timeout = try #require((unit.value("Service", "TimeoutStopSec") ?? unit.value("Service", "TimeoutSec"))
            .flatMap(SystemdUnit.seconds), "TimeoutStopSec is set to a finite time")
        #expect(timeout > patience + Self.stopMargin,
                "TimeoutStopSec \(timeout) s must exceed lookup.patienceMs (\(patience) s) plus \(Self.stopMargin) s")
        #expect((unit.value("Service", "KillSignal") ?? "SIGTERM") == "SIGTERM", "the front door drains on SIGTERM")
        #expect(unit.values("Service", "ExecStop").isEmpty, "no ExecStop: its timeout would send SIGTERM again")
        #expect(unit.value("Service", "TimeoutStopFailureMode") != "abort", "the timeout ends with SIGKILL, not an abort")
        #expect(unit.value("Service", "SendSIGKILL") != "no", "SIGKILL after the timeout")
        #expect(unit.value("Service", "WatchdogSec") == nil, "the front door does not notify a watchdog")
        #expect(unit.value("Service", "KillMode") != "none")
        #expect((unit.value("Service", "Restart") ?? "no") != "no", "a restart policy")
    }

    @Test("Kubernetes waits longer than the preStop pause, the callers' patience and 10 s before SIGKILL")
    func kubernetesStop() async throws {
        let cluster = try await Cluster()
        let patience = cluster.configuration.patience.inSeconds
        let period = try #require(cluster.pod["terminationGracePeriodSeconds"].int, "terminationGracePeriodSeconds is set")

        // The pause lets kube-proxy stop sending connections before SIGTERM stops the accepting.
        let preStop = cluster.container["lifecycle"]["preStop"]
        let command = preStop["exec"]["command"].strings
        let pause = try #require(command.count == 2 && command[0] == "sleep" ? Int(command[1]) : preStop["sleep"]["seconds"].int,
                                 "the preStop hook is a pause (sleep N): its length counts towards the grace period")
        #expect(pause > 0)
        #expect(Double(period) > Double(pause) + patience + Self.stopMargin,
                "terminationGracePeriodSeconds \(period) must exceed the pause \(pause) s, lookup.patienceMs (\(patience) s) and \(Self.stopMargin) s")
    }

    // MARK: - The front door as a service

    @Test("systemd runs one front door as a non-root user without capabilities, hardened as the worker is")
    func systemdService() async throws {
        let host = try await Self.systemdHost()
        let unit = host.unit
        let user = try #require(unit.value("Service", "User"), "a User of its own")
        #expect(!["root", "0"].contains(user))
        #expect(unit.value("Service", "DynamicUser") == "yes")
        let start = try #require(unit.value("Service", "ExecStart"))
        #expect(start == "/usr/local/bin/cpis front-door --config /etc/cpis/front-door.yaml", "ExecStart: \(start)")
        #expect(unit.values("Unit", "AssertPathExists").contains("/etc/cpis/front-door.yaml"),
                "no start on development defaults without the settings file")

        // An unprivileged port, so no capability at all.
        #expect(host.configuration.port >= 1024, "listen.port \(host.configuration.port) needs no CAP_NET_BIND_SERVICE")
        #expect(unit.values("Service", "CapabilityBoundingSet").isEmpty, "no capability in the bounding set")
        #expect(unit.values("Service", "AmbientCapabilities").isEmpty, "no ambient capability")

        // Every hardening setting of the worker's unit, with the same value.
        let worker = SystemdUnit(try Kit.text(DeployKitTests.unitFile))
        let perCommand: Set = ["ExecStart", "LoadCredential", "Environment", "TimeoutStopSec", "User", "Group",
                               "SyslogIdentifier"]
        for key in worker.keys("Service") where !perCommand.contains(key) {
            #expect(unit.values("Service", key) == worker.values("Service", key),
                    "\(key): \(unit.values("Service", key)), the worker's unit has \(worker.values("Service", key))")
        }
        for key in ["User", "SyslogIdentifier"] {
            #expect(unit.value("Service", key) != nil, "\(key) is set")
        }

        // Serving other machines, with its clients named; ports apart from the workers' on the same host.
        #expect(!host.configuration.listensOnLoopbackOnly, "listen.host serves other machines")
        #expect(host.configuration.clients.odsCodesByClient?.isEmpty == false, "authorisation.clients names the clients")
        #expect(host.configuration.listensOnLoopbackOnly || host.configuration.endpoint?.hasPrefix("https://") == true,
                "listen.endpoint is the https URL callers are given")
        let monitoring = try #require(host.configuration.monitoring, "monitoring is on")
        let workerMonitoring = try await DeployKitTests.systemdInstance().configuration.monitoring
        #expect(monitoring.port != host.configuration.port, "the monitoring port is not the endpoint's")
        #expect(monitoring.port != workerMonitoring?.port, "the monitoring port is not the workers'")
        #expect(host.configuration.triageQueue == WorkerTopology().triage, "lookups go to the contract's triage queue")
    }

    @Test("every file systemd's front door reads as a secret is a credential, in %d")
    func systemdCredentials() async throws {
        let host = try await Self.systemdHost()
        let credentials = host.unit.credentials
        let environment = host.unit.environment
        for setting in FileSetting.frontDoor {
            guard let path = setting.path(settings: host.settings, environment: environment) else {
                #expect(!setting.required, "\(setting.name) is named")
                continue
            }
            if path.hasPrefix("%d/") {
                let name = String(path.dropFirst(3))
                #expect(credentials[name] != nil, "\(setting.name) reads \(path): needs LoadCredential=\(name):...")
                #expect(credentials[name]?.hasPrefix("/") == true, "LoadCredential \(name) names an absolute source")
            } else {
                #expect(!setting.secret, "\(setting.name) is a secret: it must come from the credentials directory (%d), not \(path)")
                #expect(path.hasPrefix("/"), "\(setting.name) = \(path): an absolute path (the service has no working directory of its own)")
            }
        }
        let read = Set(FileSetting.frontDoor.compactMap { $0.path(settings: host.settings, environment: environment) })
        for name in credentials.keys {
            #expect(read.contains("%d/\(name)"), "LoadCredential \(name) is read by no setting")
        }
        let brokerURL = try #require(host.settings["broker"]["url"].string.flatMap(URLComponents.init(string:)))
        #expect(brokerURL.password == nil, "no password in broker.url")
        #expect(brokerURL.scheme == "amqps", "the broker over TLS")
    }

    @Test("the Deployment runs 2 replicas as non-root on a read-only root, probed on the monitoring port")
    func deployment() async throws {
        let cluster = try await Cluster()
        let spec = cluster.workload.deployment["spec"]
        let replicas = try #require(spec["replicas"].int, "spec.replicas is set")
        #expect(replicas >= 2, "one front door keeps answering while the other stops")
        #expect(spec["strategy"]["rollingUpdate"]["maxUnavailable"].int == 0, "a rollout keeps every replica answering")

        let monitoring = try #require(cluster.configuration.monitoring, "monitoring is on")
        #expect(monitoring.port == 9465, "monitoring.port in the cluster's settings")
        #expect(monitoring.host == "0.0.0.0", "the kubelet and Prometheus reach the pod's address, not its loopback")
        let ports = cluster.container["ports"].array
        let monitoringPort = try #require(ports.first { $0["name"].string == "monitoring" }, "a container port named monitoring")
        #expect(monitoringPort["containerPort"].int == monitoring.port)
        let https = try #require(ports.first { $0["name"].string == "https" }, "a container port named https")
        #expect(https["containerPort"].int == cluster.configuration.port, "the https port is listen.port")
        #expect(cluster.configuration.host == "0.0.0.0", "the Service reaches the pod's address")
        for (probe, path) in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")] {
            let get = cluster.container[probe]["httpGet"]
            #expect(get["path"].string == path, "\(probe) GETs \(path)")
            #expect(get["port"].string == "monitoring" || get["port"].int == monitoring.port, "\(probe) uses the monitoring port")
            #expect((get["scheme"].string ?? "HTTP") == "HTTP", "\(probe): the monitoring port is plain HTTP")
        }
        #expect(cluster.container["args"].strings.first == "front-door", "the image's `cpis` runs `cpis front-door`")
        #expect(try Kit.text("Sources/cpis/FrontDoorCommand.swift").contains("commandName: \"front-door\""),
                "`front-door` is the subcommand's name")

        // Not root, and nothing to write.
        let podSecurity = cluster.pod["securityContext"]
        let containerSecurity = cluster.container["securityContext"]
        #expect(podSecurity["runAsNonRoot"].value as? Bool == true, "runAsNonRoot")
        #expect((containerSecurity["runAsUser"].int ?? podSecurity["runAsUser"].int).map { $0 != 0 } == true, "a non-root uid")
        #expect(containerSecurity["readOnlyRootFilesystem"].value as? Bool == true, "a read-only root filesystem")
        #expect(containerSecurity["allowPrivilegeEscalation"].value as? Bool == false, "no privilege escalation")
        #expect(containerSecurity["capabilities"]["drop"].strings == ["ALL"], "every capability dropped")
        #expect(containerSecurity["capabilities"]["add"].isMissing, "none added")
        #expect(cluster.pod["automountServiceAccountToken"].value as? Bool == false, "no Kubernetes API token")
        let image = try Kit.text("Deploy/container/Containerfile")
        let user = try #require(image.split(separator: "\n").last { $0.hasPrefix("USER ") }).dropFirst(5)
        #expect(podSecurity["runAsUser"].int.map { "\($0):\($0)" } == String(user), "the Deployment runs as the image's user")

        #expect(cluster.settings["logging"]["format"].string == "json", "json logs for the cluster's log collector")
        #expect(cluster.configuration.triageQueue == WorkerTopology().triage, "lookups go to the contract's triage queue")
    }

    @Test("the Service sends a client's connections to one pod for longer than the resend window")
    func service() async throws {
        let cluster = try await Cluster()
        let services = cluster.workload.selecting("Service", selector: ["spec", "selector"])
        try #require(services.count == 1, "one Service selects the front doors' pods")
        let service = services[0]["spec"]
        let worker = try Workload(cluster.base, deployment: "cpis-worker")
        #expect(!worker.isSelected(by: service["selector"]), "the Service does not select the workers")

        let port = try #require(service["ports"].array.first { $0["port"].int == 9443 }, "the Service's port 9443")
        let target = port["targetPort"]
        #expect(target.string == "https" || target.int == cluster.configuration.port, "port 9443 reaches the front door's listen.port")
        #expect((port["protocol"].string ?? "TCP") == "TCP")

        // Resends are recognised by the process that took the first message.
        #expect(service["sessionAffinity"].string == "ClientIP", "sessionAffinity: ClientIP")
        let affinity = Double(service["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"].int ?? 10800)
        #expect(affinity >= cluster.configuration.resendWindow.inSeconds,
                "affinity (\(affinity) s) lasts at least lookup.resendWindowMs (\(cluster.configuration.resendWindow.inSeconds) s)")
    }

    @Test("a disruption budget stops one front door at a time, and Prometheus scrapes each one's monitoring port")
    func disruptionAndScrape() async throws {
        let cluster = try await Cluster()
        let budgets = cluster.workload.selecting("PodDisruptionBudget")
        try #require(budgets.count == 1, "a PodDisruptionBudget for the front doors")
        let replicas = cluster.workload.deployment["spec"]["replicas"].int ?? 1
        let maxUnavailable = budgets[0]["spec"]["maxUnavailable"].int
        let minAvailable = budgets[0]["spec"]["minAvailable"].int
        #expect(maxUnavailable.map { $0 >= 1 && $0 < replicas } ?? minAvailable.map { $0 >= 1 && $0 < replicas } ?? false,
                "drains can proceed, one front door at a time, and one keeps answering")

        let monitors = cluster.workload.selecting("PodMonitor")
        try #require(monitors.count == 1, "one PodMonitor selects the front doors' pods")
        let endpoints = monitors[0]["spec"]["podMetricsEndpoints"].array
        #expect(endpoints.contains { $0["port"].string == "monitoring" && ($0["path"].string ?? "/metrics") == "/metrics" })
        #expect(!endpoints.contains { $0["port"].string == "https" }, "the SMSP endpoint is not scraped")
    }

    @Test("every file the cluster's front door reads comes from a volume; secrets only from its Secret, none in git")
    func kubernetesSecrets() async throws {
        let cluster = try await Cluster()
        var listed: Set<String> = []
        for setting in FileSetting.frontDoor {
            guard let path = setting.path(settings: cluster.settings, environment: cluster.workload.environment) else {
                #expect(!setting.required, "\(setting.name) is named")
                continue
            }
            let file = try #require(MountedFile(path: path, container: cluster.container, pod: cluster.pod),
                                    "\(setting.name) = \(path) is mounted from a volume")
            #expect(file.listed, "\(setting.name) = \(path): the volume's items list it")
            switch file.source {
            case .secret(let name):
                #expect(name == Self.secretName, "\(setting.name) comes from \(Self.secretName), not \(name)")
                if let key = file.key { listed.insert(key) }
            case .configMap(let name): #expect(!setting.secret, "\(setting.name) is a secret, not from ConfigMap \(name)")
            case .other: Issue.record("\(setting.name) = \(path) comes from neither a Secret nor a ConfigMap")
            }
        }
        // Every key the Secret's volume lists is a file the settings name: nothing extra to create.
        #expect(cluster.workload.secretItems[Self.secretName] == listed,
                "\(Self.secretName)'s items are the files the settings name: \(listed.sorted())")

        let settingsText = cluster.workload.settingsText
        #expect(!settingsText.contains("PRIVATE KEY") && !settingsText.contains("-----BEGIN"), "no key or certificate in the settings")
        let brokerURL = try #require(cluster.settings["broker"]["url"].string.flatMap(URLComponents.init(string:)))
        #expect(brokerURL.password == nil, "no password in broker.url")
        #expect(brokerURL.scheme == "amqps", "the broker over TLS")
        #expect(cluster.container["envFrom"].isMissing, "no environment imported wholesale")
        #expect(cluster.container["env"].array.allSatisfy { $0["valueFrom"]["secretKeyRef"].isMissing },
                "no secret in an environment variable: files only")
    }

    // MARK: - Settings

    @Test("the example settings use only keys Config/front-door.yaml documents")
    func documentedKeys() throws {
        let documented = Node(try Yams.load(yaml: Kit.text(Self.documentedSettings)))
        let openMaps = FrontDoorConfiguration.schema.openMaps
        let known = documented.settingKeys(openMaps: openMaps)
        #expect(known.isSuperset(of: ["listen.port", "lookup.patienceMs", "authorisation.clients", "broker.tls.ca"]),
                "the documented keys are read (\(known.count) of them)")
        for file in [Self.systemdSettings, Self.clusterSettings] {
            let settings = Node(try Yams.load(yaml: Kit.text(file)))
            let keys = settings.settingKeys(openMaps: openMaps)
            #expect(!keys.isEmpty, "\(file) has settings")
            for key in keys.sorted() {
                #expect(known.contains(key), "\(file): \(key) is not documented in \(Self.documentedSettings)")
            }
        }
        // And the reader of the keys itself: nested keys are dotted, an open map's names are not keys.
        let sample = Node(try Yams.load(yaml: "a: {b: 1, c: {d: x}}\nm: {\"CN=x,O=y\": [Z]}\n"))
        #expect(sample.settingKeys(openMaps: ["m"]) == ["a.b", "a.c.d", "m"])
    }

    @Test("the workers allow the front door's broker user every organisation its clients may act for")
    func workersAuthoriseTheFrontDoor() async throws {
        let systemdWorker = try await DeployKitTests.systemdInstance().configuration
        let clusterWorker = try await DeployKitTests.Cluster().configuration
        let pairs = [("systemd", try await Self.systemdHost().configuration, systemdWorker),
                     ("Kubernetes", try await Cluster().configuration, clusterWorker)]
        for (platform, frontDoor, worker) in pairs {
            let user = frontDoor.broker.username
            let clientCodes = Set((frontDoor.clients.odsCodesByClient ?? [:]).values.flatMap { $0 })
            #expect(!clientCodes.isEmpty, "\(platform): the front door's clients act for some organisation")
            let allowed = worker.worker.authorisation.odsCodesByUser?[user] ?? []
            #expect(clientCodes.isSubset(of: allowed),
                    "\(platform): the workers' authorisation.users must allow \(user) \(clientCodes.subtracting(allowed).sorted()), or those queries are answered SMSP-0005")
            #expect(user != "guest", "\(platform): the front door has a broker user of its own")
            #expect(frontDoor.triageQueue == worker.worker.topology.triage, "\(platform): it sends to the queue the workers consume")
        }
    }

    // MARK: - Alerts

    @Test("the front door's alert rules use its real metrics and answers, and tell the on-call engineer what to do")
    func alerts() throws {
        let metrics = FrontDoorKit.metrics
        #expect(metrics["cpis_front_door_requests_total"] == "counter", "read from \(FrontDoorKit.metricsSource): \(metrics)")
        #expect(metrics["cpis_front_door_request_duration_seconds"] == "histogram", "a Timer, exported as a histogram")
        #expect(FrontDoorKit.answers.contains("SMSP-0004") && FrontDoorKit.answers.contains("client-fault"),
                "the answers read from \(FrontDoorKit.metricsSource): \(FrontDoorKit.answers)")

        let base = try KustomizeBase.load(DeployKitTests.kubernetesBase)
        let groups = base.objects(kind: "PrometheusRule").flatMap { $0["spec"]["groups"].array }
        let group = try #require(groups.first { $0["name"].string == "cpis-front-door" }, "a rule group cpis-front-door")
        let alerts = group["rules"].array.filter { !$0["alert"].isMissing }
        var metricsByAlert: [String: Set<String>] = [:]
        var answersByAlert: [String: Set<String>] = [:]
        for alert in alerts {
            let name = alert["alert"].string ?? "?"
            let expression = try #require(alert["expr"].string, "\(name) has an expression")
            let used = PromQL.metricNames(in: expression)
            #expect(!used.isEmpty, "\(name) reads a metric")
            for metric in used {
                #expect(FrontDoorKit.isMetric(metric) || DeployKitTests.externalMetrics.contains(metric),
                        "\(name) uses \(metric), which the front door does not export")
            }
            metricsByAlert[name] = used
            // answer="X" and answer=~"X|Y": every value is one the front door counts.
            var answers: Set<String> = []
            for match in expression.matches(of: #/answer\s*(=~|=)\s*"([^"]*)"/#) {
                let values = match.output.1 == "=~" ? match.output.2.split(separator: "|").map(String.init) : [String(match.output.2)]
                answers.formUnion(values)
            }
            for answer in answers {
                #expect(FrontDoorKit.answers.contains(answer), "\(name) counts answer \(answer), which the front door never gives")
            }
            answersByAlert[name] = answers
            #expect((alert["annotations"]["summary"].string ?? "").count >= 20, "\(name) has a summary")
            #expect((alert["annotations"]["description"].string ?? "").count >= 200,
                    "\(name) has a description saying what it means and what to do")
            #expect(["critical", "warning"].contains(alert["labels"]["severity"].string ?? ""), "\(name) has a severity")
        }

        let required: [(alert: String, metric: String, answer: String?)] = [
            ("CPISFrontDoorAnswersNotInTime", "cpis_front_door_requests_total", "SMSP-0004"),
            ("CPISFrontDoorClientFaults", "cpis_front_door_requests_total", "client-fault"),
            ("CPISFrontDoorRefusingOrganisations", "cpis_front_door_requests_total", "SMSP-0005"),
            ("CPISFrontDoorSlow", "cpis_front_door_request_duration_seconds_bucket", nil),
            ("CPISFrontDoorResendsHigh", "cpis_front_door_resends_total", nil),
            ("CPISFrontDoorNotReady", "kube_pod_status_ready", nil),
        ]
        for (alert, metric, answer) in required {
            #expect(metricsByAlert[alert]?.contains(metric) == true, "alert \(alert) on \(metric)")
            if let answer { #expect(answersByAlert[alert]?.contains(answer) == true, "alert \(alert) counts \(answer)") }
        }
        let notReady = try #require(alerts.first { $0["alert"].string == "CPISFrontDoorNotReady" }?["expr"].string)
        #expect(notReady.contains("pod=~\"\(Self.deploymentName)-.*\""), "the readiness alert is about the front doors' pods")
    }
}
