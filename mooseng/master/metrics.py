"""The master's Prometheus metrics, in the daemon's own registry (never the global one)."""

import prometheus_client as prom


class MasterMetrics:
    def __init__(self, registry: prom.CollectorRegistry):
        self.operations = prom.Counter(
            "mooseng_master_metadata_operations", "Metadata and chunk RPCs by outcome",
            ["operation", "status"], registry=registry)
        self.duration = prom.Histogram(
            "mooseng_master_metadata_operation_duration_seconds",
            "Time to answer a metadata or chunk RPC (including the changelog fsync)",
            ["operation"], registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0))
        self.chunks = prom.Gauge("mooseng_master_chunks", "Chunks in the metadata",
                                 registry=registry)
        self.undergoal = prom.Gauge("mooseng_master_chunks_undergoal",
                                    "Chunks with fewer valid copies than their goal",
                                    registry=registry)
        self.overgoal = prom.Gauge("mooseng_master_chunks_overgoal",
                                   "Chunks with more valid copies than their goal",
                                   registry=registry)
        self.misplaced = prom.Gauge("mooseng_master_chunks_misplaced",
                                    "Chunks with enough copies, some on servers their storage "
                                    "class does not allow", registry=registry)
        self.region_pending = prom.Gauge(
            "mooseng_master_chunks_pending_replication",
            "Chunks whose storage class wants a copy in the region that is not made yet",
            ["region"], registry=registry)
        self.region_lag = prom.Gauge(
            "mooseng_master_replication_lag_seconds",
            "How long the oldest chunk waiting for a copy in the region has waited",
            ["region"], registry=registry)
        self.missing = prom.Gauge("mooseng_master_chunks_missing",
                                  "Chunks with no valid copy (unreadable)", registry=registry)
        self.chunkservers = prom.Gauge("mooseng_master_chunkservers",
                                       "Registered chunk servers by state", ["state"],
                                       registry=registry)
        self.replications = prom.Counter("mooseng_master_replications",
                                         "Replication commands issued", registry=registry)
        self.moves = prom.Counter("mooseng_master_moves",
                                  "Copies moved to where their storage class wants them",
                                  registry=registry)
        self.moved_bytes = prom.Counter("mooseng_master_moved_bytes",
                                        "Bytes of the copies moved for storage classes",
                                        registry=registry)
        self.changelog_version = prom.Gauge("mooseng_master_changelog_version",
                                            "Last applied changelog entry", registry=registry)
        self.files = prom.Gauge("mooseng_master_files", "Files in the namespace",
                                registry=registry)
        self.directories = prom.Gauge("mooseng_master_directories",
                                      "Directories in the namespace", registry=registry)
        self.replications_pending = prom.Gauge("mooseng_master_replications_pending",
                                               "Replications issued and not yet reported",
                                               registry=registry)
        self.invalidations_sent = prom.Counter(
            "mooseng_master_invalidations_sent", "Cache invalidation events sent to clients",
            registry=registry)
        self.exports_reloads = prom.Counter(
            "mooseng_master_exports_reloads", "Exports files read again on SIGHUP, by outcome "
            "(loaded; refused: malformed, the rules in force stay)", ["outcome"],
            registry=registry)
        self.cache_watchers = prom.Gauge("mooseng_master_cache_watchers",
                                         "Clients watching for cache invalidations",
                                         registry=registry)
