"""Markdown tables from pandas DataFrames.

``DataFrame.to_markdown`` needs ``tabulate``, which genomekit does not depend on; this is the one
writer of Markdown tables (reports, probe tables, the demo summary).
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd


def markdown_table(frame: pd.DataFrame, *, right: Collection[str] = ()) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index left out), without a final newline.

    Cells are written with ``str``, so format numbers first (e.g. ``frame[c].map("{:.2f}".format)``);
    a "|" inside a cell is escaped.

    Args:
        frame: the rows and columns to show; column names are the header.
        right: columns to right-align (``---:``); the others get the default alignment (``---``).
    """

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
