"""Shared by the tests that read markdown tables (test_paper_report, test_committed_results)."""

import re


def split_row(line: str) -> list[str]:
    """A markdown table row's cells, escaped pipes restored."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def table_body(lines: list[str], header: int) -> list[list[str]]:
    """The cells of each body row of the table whose header row is ``lines[header]``
    (the separator row after it skipped; the table ends at the first non-row line)."""
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("| "):
            break
        rows.append(split_row(line))
    return rows
