"""Attribute names: case- and punctuation-insensitive matching with close-match suggestions.

``resolve_attributes(["smiling", "no beard"], names)`` returns ``("Smiling", "No_Beard")``; an unknown
name raises a UserError such as ``unknown attribute 'smilng'; did you mean: Smiling? Known: ...``.
Conditional sampling, reports and ``classifiers eval`` all resolve user-typed names through here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from genomekit.errors import UserError


class UnknownAttributeError(UserError, KeyError):
    """An attribute name that matches none of the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def normalize_attribute_name(name: str) -> str:
    """Lower case with everything but letters and digits removed: 'No_Beard', 'no-beard', 'No beard' -> 'nobeard'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _known_list(attribute_names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(attribute_names[:limit])
    return shown + (f", ... ({len(attribute_names)} in all)" if len(attribute_names) > limit else "")


def resolve_attribute(name: str, attribute_names: Sequence[str]) -> str:
    """The entry of ``attribute_names`` that ``name`` means, ignoring case and punctuation.

    Raises:
        UnknownAttributeError: no entry matches; the message lists close matches and the known names.
    """
    table = {normalize_attribute_name(a): a for a in attribute_names}
    key = normalize_attribute_name(name)
    if key in table:
        return table[key]
    close_keys = difflib.get_close_matches(key, list(table), n=3, cutoff=0.6)
    suggestion = f"; did you mean: {', '.join(table[k] for k in close_keys)}?" if close_keys else ""
    raise UnknownAttributeError(
        f"unknown attribute {name!r}{suggestion or '.'} Known: {_known_list(list(attribute_names))}"
    )


def resolve_attributes(names: str | Iterable[str], attribute_names: Sequence[str]) -> tuple[str, ...]:
    """Resolve each of ``names`` (a list, or one comma-separated string) to an entry of ``attribute_names``.

    Returns:
        The canonical names, in the order given, without duplicates.
    Raises:
        UnknownAttributeError: on the first name that matches nothing (with close matches).
    """
    if isinstance(names, str):
        names = [n for n in (part.strip() for part in names.split(",")) if n]
    resolved: list[str] = []
    for name in names:
        canonical = resolve_attribute(name, attribute_names)
        if canonical not in resolved:
            resolved.append(canonical)
    return tuple(resolved)


def attribute_indices(names: str | Iterable[str], attribute_names: Sequence[str]) -> list[int]:
    """Column indices in ``attribute_names`` of the resolved ``names``."""
    resolved = resolve_attributes(names, attribute_names)
    position = {a: i for i, a in enumerate(attribute_names)}
    return [position[a] for a in resolved]


def match_attribute_columns(wanted: Sequence[str], available: Sequence[str], *, what: str = "dataset") -> list[int]:
    """For each name in ``wanted``, its column in ``available`` (matching ignores case and punctuation).

    Used to line up a classifier set's attributes with a dataset's label columns.

    Raises:
        UserError: some of ``wanted`` are missing from ``available``; the message names them.
    """
    table = {normalize_attribute_name(a): i for i, a in enumerate(available)}
    columns, missing = [], []
    for name in wanted:
        index = table.get(normalize_attribute_name(name))
        (missing if index is None else columns).append(name if index is None else index)
    if missing:
        raise UserError(
            f"the {what}'s attributes differ from the classifier set's: {len(missing)} of {len(wanted)} "
            f"classifier attributes have no label column ({_known_list(missing, 6)}); "
            f"the {what} has: {_known_list(list(available), 6) or 'no labels'}"
        )
    return columns
