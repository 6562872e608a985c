"""The chunk server's Prometheus metrics, in the daemon's own registry."""

import prometheus_client

from mooseng.chunkserver.store import ChunkCopy, ChunkStore


class ChunkServerMetrics:
    def __init__(self, registry: prometheus_client.CollectorRegistry, store: ChunkStore):
        def counter(name, text):
            return prometheus_client.Counter(name, text, registry=registry)

        def gauge(name, text, function):
            metric = prometheus_client.Gauge(name, text, registry=registry)
            metric.set_function(function)
            return metric

        self.bytes_written = counter("mooseng_chunkserver_bytes_written_total",
                                     "Chunk data bytes received and stored (writes, replication)")
        self.bytes_read = counter("mooseng_chunkserver_bytes_read_total",
                                  "Chunk data bytes sent to readers")
        self.checksum_failures = counter("mooseng_chunkserver_checksum_failures_total",
                                         "Copies found corrupt (read, scrub, verify) and dropped")
        self.replications = counter("mooseng_chunkserver_replications_total",
                                    "Chunk copies fetched from another chunk server")
        self.replication_failures = counter("mooseng_chunkserver_replication_failures_total",
                                            "Replications that found no source able to send")
        self.refused_full = counter("mooseng_chunkserver_writes_refused_full_total",
                                    "Chunk writes refused because the disk was full")
        self.scrubbed = counter("mooseng_chunkserver_scrubbed_chunks_total",
                                "Copies verified by the background scrubber")
        gauge("mooseng_chunkserver_chunks_stored", "Chunk copies on disk", store.count)
        gauge("mooseng_chunkserver_disk_space_total_bytes",
              "Capacity offered: stored bytes plus the disk's free space, at most the configured",
              store.capacity_bytes)
        gauge("mooseng_chunkserver_disk_space_used_bytes", "Bytes of chunk and CRC files",
              store.used_bytes)

    def store_event(self, event: str, copy: ChunkCopy) -> None:
        """Store listener: every damaged copy counts as a checksum failure, wherever found."""
        if event == "damaged":
            self.checksum_failures.inc()
