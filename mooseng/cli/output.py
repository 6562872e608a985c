"""What a command produces: JSON data for --json and text for people."""

import dataclasses


@dataclasses.dataclass
class Output:
    data: object            # printed as JSON with --json
    text: str = ""          # printed otherwise (nothing when empty)
