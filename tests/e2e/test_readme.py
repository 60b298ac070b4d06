"""The README's Python example runs and says what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert 3 < float(lines[0]) < 16  # several distinct directions, fewer than 16 units
    matched, in_place = (float(v) for v in re.findall(r"-?\d+\.\d+", lines[1]))
    assert matched > in_place + 0.3  # units match across seeds only after reordering
    assert "max_distance=0.0" in lines[2]
