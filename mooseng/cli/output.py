"""What a command produces: JSON data for --json and text for people."""

import dataclasses


@dataclasses.dataclass
class Output:
    data: object            # printed as JSON with --json
    text: str = ""          # printed otherwise (nothing when empty)
    exit_code: int = 0      # e.g. 1 from `bench check` when something regressed
