"""Writing a figure to every requested format (PDF for papers, PNG for the report and README), with
a footer that says what it came from, so that a figure found on its own is not mistaken for another
scale's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt

# The footer of every figure saved inside `footer(...)` (set by the figure step).
_FOOTER: list[str] = []


@contextmanager
def footer(text: str) -> Iterator[None]:
    """Write `text` at the foot of every figure saved inside this block."""
    _FOOTER.append(text)
    try:
        yield
    finally:
        _FOOTER.pop()


def save_figure(fig: plt.Figure, outputs: list[Path]) -> None:
    fig.tight_layout()
    if _FOOTER:
        # Below everything drawn, legends placed under the axes included, so that it overlaps nothing.
        drawn = fig.get_tightbbox()  # inches
        fig.text(
            drawn.x0 / fig.get_figwidth(),
            drawn.y0 / fig.get_figheight() - 0.01,
            _FOOTER[-1],
            ha="left",
            va="top",
            fontsize=7,
            color="0.35",
            transform=fig.transFigure,
        )
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")  # keeps legends and the footer on the canvas
    plt.close(fig)
