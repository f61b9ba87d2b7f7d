import pandas as pd

from genomekit.markdown import markdown_table


def test_markdown_table_rows_alignment_and_escaped_pipes():
    frame = pd.DataFrame({"attribute": ["Smiling", "a|b"], "acc": ["95.00", ""]})
    assert markdown_table(frame, right={"acc"}) == (
        "| attribute | acc |\n|---|---:|\n| Smiling | 95.00 |\n| a\\|b |  |"
    )
    assert markdown_table(frame).splitlines()[1] == "|---|---|"


def test_markdown_table_of_no_rows_is_the_header():
    assert markdown_table(pd.DataFrame(columns=["x", "y"])) == "| x | y |\n|---|---|"
