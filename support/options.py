"""The suite's `-D name=value` options, read and checked once at start-up."""

from __future__ import annotations

import dataclasses

PRESERVE = ("never", "failed", "always")


class OptionError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Options:
    backend: str = "auto"          # auto | docker | local
    timeout_scale: float = 1.0     # multiplies every "within N seconds"
    data_scale: float = 1.0        # multiplies every data-set size
    preserve: str = "never"        # keep the temporary directories: never | failed | always

    @classmethod
    def from_userdata(cls, userdata) -> "Options":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for key, raw in dict(userdata).items():
            if key.startswith("AllureFormatter."):
                continue
            if key not in known:
                raise OptionError(f"unknown option -D {key}=...; known options: "
                                  f"{', '.join(sorted(known))}")
            values[key] = raw
        try:
            for key in ("timeout_scale", "data_scale"):
                if key in values:
                    values[key] = float(values[key])
                    if values[key] <= 0:
                        raise ValueError("must be positive")
        except ValueError as error:
            raise OptionError(f"bad -D {key}={userdata[key]}: {error} (e.g. -D {key}=2)") from None
        options = cls(**values)
        if options.preserve not in PRESERVE:
            raise OptionError(f"bad -D preserve={options.preserve}: use one of "
                              f"{', '.join(PRESERVE)}")
        return options
