"""`mooseng cache stats|drop`: the metadata cache of a running client that serves its metrics
(`Client(metrics_port=...)`, `mooseng --metrics-port PORT ...`), e.g. a long benchmark."""

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from mooseng.client.cache import KINDS
from mooseng.common.errors import Unavailable

from .format import pairs, table
from .output import Output

DEFAULT_CLIENT = "127.0.0.1:9427"


class ClientUnreachable(Unavailable):
    """The client named with --client does not serve its metrics there."""
_PREFIX = "mooseng_client_metadata_cache_"


def _fetch(address: str, path: str, method: str = "GET") -> bytes:
    request = urllib.request.Request(f"http://{address}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ClientUnreachable(f"cannot reach the client's metrics at {address}: {reason}") \
            from None


def stats(_client, args) -> Output:
    text = _fetch(args.client, "/metrics").decode()
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(_PREFIX):
                values[(sample.name[len(_PREFIX):], sample.labels.get("kind", ""))] = \
                    sample.value
    if not values:
        raise ClientUnreachable(f"{args.client} serves no metadata cache metrics")
    kinds = {}
    for kind in KINDS:
        hits = int(values.get(("hits_total", kind), 0))
        misses = int(values.get(("misses_total", kind), 0))
        kinds[kind] = {"hits": hits, "misses": misses,
                       "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else 0.0}
    data = {"client": args.client, "kinds": kinds,
            "entries": int(values.get(("entries", ""), 0)),
            "invalidations": int(values.get(("invalidations_total", ""), 0)),
            "evictions": int(values.get(("evictions_total", ""), 0))}
    rows = [[kind, k["hits"], k["misses"], f"{k['hit_ratio'] * 100:.1f} %"]
            for kind, k in kinds.items()]
    text = (table(["KIND", "HITS", "MISSES", "HIT RATIO"], rows, right={1, 2, 3}) + "\n\n"
            + pairs([("Entries", data["entries"]), ("Invalidations received",
                                                     data["invalidations"]),
                     ("Evictions", data["evictions"])]))
    return Output(data, text)


def drop(_client, args) -> Output:
    data = json.loads(_fetch(args.client, "/cache/drop", method="POST"))
    return Output({"client": args.client, **data},
                  f"dropped {data['dropped']} cache entries of the client at {args.client}")
