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


def test_your_own_model_example_runs(capsys, monkeypatch, tmp_path):
    """The ResNet example: layer similarities in [0, 1], the barrier falls after weight
    matching, and the recording it saves loads back."""
    text = README.read_text()
    section = text[text.index("## Your own model") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Your own model)", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    diagonal = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", lines[0])]
    assert len(diagonal) == 3 and all(0.0 <= v <= 1.0 + 1e-9 for v in diagonal)
    before, after = (float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", lines[1]))
    assert 0 < after < 0.75 * before  # "falls by about half"
    from unitscope.record import Recording

    rec = Recording.load(tmp_path / "my-resnets")
    assert rec.is_torch and rec.layers == ["3.relu#1", "4.relu#1", "7"] and rec.members == 2
