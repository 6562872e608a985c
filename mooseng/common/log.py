"""Structured log lines on stderr: `ts=... level=info component=master msg="..." key=value`."""

import logging
import sys
import time


def _quote(value) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    def __init__(self, component: str, node_id: str = ""):
        super().__init__()
        self.component = component
        self.node_id = node_id

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "component": self.component,
        }
        if self.node_id:
            fields["node"] = self.node_id
        fields["msg"] = record.getMessage()
        fields.update(getattr(record, "fields", {}))
        line = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        if record.exc_info:
            line += " error=" + _quote(self.formatException(record.exc_info))
        return line


def setup(component: str, level: str = "info", node_id: str = "") -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(component, node_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("grpc").setLevel("WARNING")
    return logging.getLogger(f"mooseng.{component}")


def kv(**fields) -> dict:
    """Extra fields for one log call: `log.info("registered", extra=kv(server=sid))`."""
    return {"fields": fields}
