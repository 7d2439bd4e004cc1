"""The shell examples of the README and docs/*.md (their ```bash blocks), to run against the demo."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# blocks that are not examples to run against a demo: they start it, or run the test suite
NOT_RUN = {
    "make demo": "starts the demo the test already runs",
    "TEST_DATABASE_URL=": "runs the test suite",
}
_BLOCK = re.compile(r"^([ \t]*)```bash\n(.*?)^\1```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    where: str
    script: str


def examples() -> list[Example]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            script = textwrap.dedent(match.group(2))
            if any(script.lstrip().startswith(start) for start in NOT_RUN):
                continue
            line = text[: match.start()].count("\n") + 1
            found.append(Example(f"{path.relative_to(ROOT)}:{line}", script))
    return found


def for_demo(script: str, port: int) -> str:
    """The example on the demo's ports: the API's 3000 and the simulators' 3001 to 3004 move with it."""
    return re.sub(r"localhost:(300[0-4])\b", lambda m: f"localhost:{port + int(m.group(1)) - 3000}", script)
