"""The Self-test tab runs the quick needle grid on the chosen collection and shows the heatmap."""

import csv
import subprocess
import sys

import pytest
from gradio_client import Client

from tests.helpers import ROOT
from tests.serving import running_app

pytestmark = pytest.mark.model


def test_self_test_tab_returns_a_verdict_a_heatmap_and_the_cells(tmp_path, dalpiaz):
    # A small collection keeps the grid to one context length: 3 depths x 2 modes.
    small = tmp_path / "small.txt"
    small.write_text("\n".join((dalpiaz / "g13-planningpoker.txt").read_text(encoding="cp1252").splitlines()[:14]), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "storychat", "import", str(small), "--collection", "poker", "--data-dir", str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True,
    )
    with running_app(tmp_path, "-n", "24") as url:
        verdict, image, cells = Client(url, verbose=False).predict("poker", api_name="/self_test")
    assert verdict.startswith("**Verdict:**") and "long-context" in verdict and "default" in verdict
    with open(image, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(cells, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6  # 3 depths x 2 modes
    assert {r["mode"] for r in rows} == {"long-context", "default"}
