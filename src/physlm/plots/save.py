"""Writing a figure to every requested format (PDF for papers, PNG for the report and README)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def save_figure(fig: plt.Figure, outputs: list[Path]) -> None:
    fig.tight_layout()
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")  # keeps legends placed outside the axes
    plt.close(fig)
