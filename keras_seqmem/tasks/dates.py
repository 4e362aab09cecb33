"""Date normalisation: human-written dates -> ISO ``YYYY-MM-DD``.

A sequence-to-sequence task (``kind="seq2seq"``, see :mod:`.base`): the
source is a date written in one of :data:`FORMATS`, one token per character;
the target is the same date in ISO 8601 form, ``YYYY-MM-DD``, one token per
character, followed by ``END_ID``. Example for 3 May 1979 (a Thursday):

=============================  ===========================
format                         source
=============================  ===========================
``iso``                        ``1979-05-03``
``d_month_yyyy``               ``3 May 1979``
``dd_month_yyyy``              ``03 May 1979``
``month_d_yyyy``               ``May 3, 1979``
``weekday_month_d_yyyy``       ``Thursday, May 3, 1979``
``wkd_d_mon_yyyy``             ``Thu 3 May 1979``
``mm_dd_yyyy_slash``           ``05/03/1979`` (US: month first)
``mm_dd_yy_slash``             ``05/03/79`` (US, two-digit year)
``d_m_yyyy_dot``               ``3.5.1979`` (day first)
``dd_mm_yyyy_dot``             ``03.05.1979`` (day first)
``yyyy_month_dth``             ``1979 May 3rd``
``dth_of_month_yyyy``          ``3rd of May 1979``
``upper_month_d_yyyy``         ``MAY 3 1979``
``lower_d_month_yyyy``         ``3 may 1979``
``d_mon_yyyy``                 ``3 Sep 1979`` (three-letter months)
``ap_mon_d_yyyy``              ``Sept. 3, 1979`` (AP style: ``Jan.``,
                               ``Feb.``, ``March``, ..., ``Sept.``, ``Dec.``)
=============================  ===========================

The mapping from source string to target is a function -- the same string
never stands for two dates -- because:

* numeric dates with ``/`` are always US month-first ``MM/DD``, numeric
  dates with ``.`` always day-first ``D.M`` / ``DD.MM``, and ``-`` is only
  used by ISO ``YYYY-MM-DD``;
* two-digit years (``mm_dd_yy_slash``) are only written for years in
  :data:`TWO_DIGIT_YEARS`, 1969..2068 -- the POSIX pivot that
  ``datetime.strptime("%y")`` also uses -- whatever ``min_year`` and
  ``max_year`` are. Dates outside that window are written in one of the
  other requested formats.

Dates are drawn uniformly (by day) between 1 January ``min_year`` and
31 December ``max_year``; the format is then drawn uniformly among the
requested formats that can write that date. Ordinal day suffixes are the
English ones (1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 23rd, 31st).

The source vocabulary is the same for every parameter setting: the special
tokens then every character any format can produce (space, ``,``, ``-``,
``.``, ``/``, digits, letters), sorted. The target vocabulary is the special
tokens then ``0123456789-``. ``source`` has the static width of the longest
string the requested formats can produce for dates in the year range
(``Wednesday, September 27, 1979`` and the like: 29 with the defaults);
``target`` has width 11 (10 characters and ``END_ID``).

Train and test sets are separated by seed only. With the defaults there are
73,049 dates and 1,031,011 distinct source strings (some formats coincide,
e.g. ``3 May 1979`` is both ``d_month_yyyy`` and ``d_mon_yyyy``), so sets
drawn with different seeds overlap a little: measured, 2.10% of the source
strings of ``generate(2000, seed=1)`` also occur in ``generate(20000,
seed=0)`` (the same date, hence the same target). Held-out accuracy is
therefore very nearly accuracy on unseen strings; drop the overlapping rows
if an exact split matters.
"""

from __future__ import annotations

import datetime
import functools

import numpy as np

from .base import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TaskSpec,
    check_int,
    register_task,
)

__all__ = [
    "SPEC",
    "FORMATS",
    "TWO_DIGIT_YEARS",
    "SOURCE_VOCABULARY",
    "TARGET_VOCABULARY",
    "format_date",
    "generate",
    "lengths",
]

NAME = "dates"

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)
MONTHS_3 = tuple(m[:3] for m in MONTHS)
MONTHS_AP = (
    "Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.",
    "Sept.", "Oct.", "Nov.", "Dec.",
)
WEEKDAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday",
)
WEEKDAYS_3 = tuple(w[:3] for w in WEEKDAYS)

TWO_DIGIT_YEARS = (1969, 2068)
"""Inclusive year window in which two-digit years are written (POSIX pivot,
as ``datetime.strptime("%y")``)."""

MIN_YEAR, MAX_YEAR = 1000, 9999
"""Bounds of ``min_year`` / ``max_year``: four-digit years only."""


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


_FORMATTERS = {
    "iso": lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}",
    "d_month_yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "dd_month_yyyy": lambda d: f"{d.day:02d} {MONTHS[d.month - 1]} {d.year}",
    "month_d_yyyy": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "weekday_month_d_yyyy": lambda d: (
        f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}"
    ),
    "wkd_d_mon_yyyy": lambda d: (
        f"{WEEKDAYS_3[d.weekday()]} {d.day} {MONTHS_3[d.month - 1]} {d.year}"
    ),
    "mm_dd_yyyy_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "mm_dd_yy_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "d_m_yyyy_dot": lambda d: f"{d.day}.{d.month}.{d.year}",
    "dd_mm_yyyy_dot": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "yyyy_month_dth": lambda d: (
        f"{d.year} {MONTHS[d.month - 1]} {_ordinal(d.day)}"
    ),
    "dth_of_month_yyyy": lambda d: (
        f"{_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}"
    ),
    "upper_month_d_yyyy": lambda d: (
        f"{MONTHS[d.month - 1].upper()} {d.day} {d.year}"
    ),
    "lower_d_month_yyyy": lambda d: (
        f"{d.day} {MONTHS[d.month - 1].lower()} {d.year}"
    ),
    "d_mon_yyyy": lambda d: f"{d.day} {MONTHS_3[d.month - 1]} {d.year}",
    "ap_mon_d_yyyy": lambda d: f"{MONTHS_AP[d.month - 1]} {d.day}, {d.year}",
}

FORMATS = tuple(_FORMATTERS)
"""Names of the date formats, in a fixed order (see the module docstring)."""

_TWO_DIGIT_FORMATS = frozenset({"mm_dd_yy_slash"})


def format_date(date: datetime.date, fmt_name: str) -> str:
    """Writes ``date`` in the format ``fmt_name``.

    Args:
        date: A ``datetime.date`` with a four-digit year.
        fmt_name: One of :data:`FORMATS`.

    Returns:
        The date as a string, e.g. ``"Thursday, May 3, 1979"``.

    Raises:
        ValueError: If the format is unknown, or it writes a two-digit year
            and the year is outside :data:`TWO_DIGIT_YEARS`.
    """
    if fmt_name not in _FORMATTERS:
        raise ValueError(
            f"Task {NAME!r}: unknown date format {fmt_name!r}; known formats: "
            f"{', '.join(FORMATS)}"
        )
    if not MIN_YEAR <= date.year <= MAX_YEAR:
        raise ValueError(
            f"Task {NAME!r}: year {date.year} is not a four-digit year"
        )
    if fmt_name in _TWO_DIGIT_FORMATS and not (
        TWO_DIGIT_YEARS[0] <= date.year <= TWO_DIGIT_YEARS[1]
    ):
        raise ValueError(
            f"Task {NAME!r}: format {fmt_name!r} only writes years "
            f"{TWO_DIGIT_YEARS[0]}..{TWO_DIGIT_YEARS[1]}, got {date.year}"
        )
    return _FORMATTERS[fmt_name](date)


def _all_characters() -> set[str]:
    chars = set()
    start = datetime.date(2000, 1, 1)  # A leap year: every (month, day).
    for k in range(366):
        d = start + datetime.timedelta(days=k)
        for name in FORMATS:
            chars.update(format_date(d, name))
    return chars


SOURCE_VOCABULARY = SPECIAL_TOKENS + tuple(sorted(_all_characters()))
"""Source vocabulary, id -> character (ids 0..2 are the special tokens)."""
TARGET_VOCABULARY = SPECIAL_TOKENS + tuple("0123456789-")
"""Target vocabulary, id -> character (ids 0..2 are the special tokens)."""
TARGET_LENGTH = 11
"""Width of ``target``: ``YYYY-MM-DD`` and ``END_ID``."""


def _lookup(vocabulary) -> np.ndarray:
    """Byte -> id table (-1 for bytes outside the vocabulary, 0 -> PAD)."""
    table = np.full(256, -1, dtype=np.int32)
    table[0] = PAD_ID
    for i, tok in enumerate(vocabulary[len(SPECIAL_TOKENS):], len(SPECIAL_TOKENS)):
        table[ord(tok)] = i
    return table


_SOURCE_TABLE = _lookup(SOURCE_VOCABULARY)
_TARGET_TABLE = _lookup(TARGET_VOCABULARY)


def _to_ids(strings, width: int, table: np.ndarray) -> np.ndarray:
    """ASCII strings -> int32 ``(len(strings), width)`` ids, right-padded."""
    blob = "".join(s.ljust(width, "\0") for s in strings).encode("ascii")
    codes = np.frombuffer(blob, dtype=np.uint8).reshape(len(strings), width)
    ids = table[codes]
    assert (ids >= 0).all(), "character outside the vocabulary"
    return ids


def _check_params(min_year, max_year, formats) -> tuple[int, int, tuple]:
    min_year = check_int(NAME, "min_year", min_year, MIN_YEAR, MAX_YEAR)
    max_year = check_int(NAME, "max_year", max_year, MIN_YEAR, MAX_YEAR)
    if max_year < min_year:
        raise ValueError(
            f"Task {NAME!r}: parameter `max_year` must be >= min_year="
            f"{min_year}, got {max_year}"
        )
    if formats is None:
        names = FORMATS
    else:
        if isinstance(formats, str):
            formats = (formats,)
        try:
            names = tuple(formats)
        except TypeError:
            raise ValueError(
                f"Task {NAME!r}: parameter `formats` must be a tuple of "
                f"format names, got {formats!r}"
            ) from None
        if not names:
            raise ValueError(
                f"Task {NAME!r}: parameter `formats` must name at least one "
                f"format of {FORMATS}"
            )
        unknown = [f for f in names if f not in _FORMATTERS]
        if unknown:
            raise ValueError(
                f"Task {NAME!r}: parameter `formats` has unknown format(s) "
                f"{unknown}; known formats: {', '.join(FORMATS)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(
                f"Task {NAME!r}: parameter `formats` has duplicates: {names}"
            )
    if all(f in _TWO_DIGIT_FORMATS for f in names) and not (
        TWO_DIGIT_YEARS[0] <= min_year and max_year <= TWO_DIGIT_YEARS[1]
    ):
        raise ValueError(
            f"Task {NAME!r}: parameter `formats` {names} only writes years "
            f"{TWO_DIGIT_YEARS[0]}..{TWO_DIGIT_YEARS[1]} (two-digit years), "
            f"but min_year..max_year is {min_year}..{max_year}; add a "
            f"four-digit format or narrow the years"
        )
    return min_year, max_year, names


def _year_range(name: str, min_year: int, max_year: int) -> tuple[int, int]:
    if name in _TWO_DIGIT_FORMATS:
        return max(min_year, TWO_DIGIT_YEARS[0]), min(max_year, TWO_DIGIT_YEARS[1])
    return min_year, max_year


@functools.lru_cache(maxsize=128)
def _lengths(min_year: int, max_year: int, names: tuple) -> tuple[int, int]:
    longest = 0
    for name in names:
        lo, hi = _year_range(name, min_year, max_year)
        if lo > hi:
            continue
        # The Gregorian calendar repeats every 400 years, and with four-digit
        # years a string's length only depends on (month, day, weekday).
        hi = min(hi, lo + 399)
        days = np.arange(
            np.datetime64(f"{lo:04d}-01-01"), np.datetime64(f"{hi + 1:04d}-01-01")
        )
        months = days.astype("datetime64[M]")
        day = (days - months).astype(np.int64) + 1
        month = months.astype(np.int64) % 12 + 1
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01: Thursday (3).
        key = (month * 32 + day) * 7 + weekday
        _, first = np.unique(key, return_index=True)
        for k in first.tolist():
            d = datetime.date.fromisoformat(str(days[k]))
            longest = max(longest, len(_FORMATTERS[name](d)))
    return longest, TARGET_LENGTH


def lengths(
    min_year: int = 1900, max_year: int = 2099, formats=None
) -> tuple[int, int]:
    """Static widths ``(S, T)`` of ``source`` and ``target``.

    Args:
        min_year: First year, see :func:`generate`.
        max_year: Last year, see :func:`generate`.
        formats: Format names, see :func:`generate`.

    Returns:
        ``(S, T)``: the longest source string the formats can write for
        dates in the year range, and 11.

    Raises:
        ValueError: If a parameter is invalid.
    """
    return _lengths(*_check_params(min_year, max_year, formats))


def generate(
    num_examples: int,
    seed: int | None = 0,
    *,
    min_year: int = 1900,
    max_year: int = 2099,
    formats=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generates the date-normalisation task.

    Args:
        num_examples: Number of examples.
        seed: Seed of ``numpy.random.default_rng``.
        min_year: First year (inclusive), 1000..9999.
        max_year: Last year (inclusive), ``min_year``..9999.
        formats: Tuple of names from :data:`FORMATS` to use, or ``None`` for
            all of them. If it only has two-digit-year formats, the years
            must lie in :data:`TWO_DIGIT_YEARS`.

    Returns:
        ``(source, target)``: ``source`` int32 ``(num_examples, S)``, the
        characters of the written date in :data:`SOURCE_VOCABULARY`,
        right-padded with 0; ``target`` int32 ``(num_examples, 11)``, the
        characters of ``YYYY-MM-DD`` in :data:`TARGET_VOCABULARY` and
        ``END_ID``.

    Raises:
        ValueError: If a parameter is invalid.
    """
    num_examples = check_int(NAME, "num_examples", num_examples, minimum=1)
    min_year, max_year, names = _check_params(min_year, max_year, formats)
    width, target_width = _lengths(min_year, max_year, names)

    rng = np.random.default_rng(seed)
    first = datetime.date(min_year, 1, 1).toordinal()
    last = datetime.date(max_year, 12, 31).toordinal()
    ordinals = rng.integers(first, last + 1, size=num_examples)
    pick = rng.random(num_examples)

    epoch = datetime.date(1970, 1, 1).toordinal()
    days = (ordinals - epoch).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970

    every = np.arange(len(names))
    four_digit = np.array(
        [k for k, f in enumerate(names) if f not in _TWO_DIGIT_FORMATS],
        dtype=np.int64,
    )
    choice = every[(pick * len(every)).astype(np.int64)]
    if len(four_digit) < len(every):
        outside = (years < TWO_DIGIT_YEARS[0]) | (years > TWO_DIGIT_YEARS[1])
        if len(four_digit):
            alternative = four_digit[(pick * len(four_digit)).astype(np.int64)]
            choice = np.where(outside, alternative, choice)
        # (Otherwise _check_params guarantees that no date is outside.)

    formatters = [_FORMATTERS[f] for f in names]
    strings = [
        formatters[k](datetime.date.fromordinal(o))
        for o, k in zip(ordinals.tolist(), choice.tolist())
    ]
    source = _to_ids(strings, width, _SOURCE_TABLE)

    target = np.full((num_examples, target_width), PAD_ID, dtype=np.int32)
    iso = np.datetime_as_string(days, unit="D").astype("S10")
    codes = np.frombuffer(iso.tobytes(), dtype=np.uint8).reshape(-1, 10)
    target[:, :10] = _TARGET_TABLE[codes]
    target[:, 10] = END_ID
    return source, target


SPEC = register_task(
    TaskSpec(
        name=NAME,
        kind="seq2seq",
        input="tokens",
        baseline=0.0,
        metric_name="exact_match",
        generator=generate,
        defaults={"min_year": 1900, "max_year": 2099, "formats": None},
        description="Human-written dates -> ISO YYYY-MM-DD.",
        source_vocabulary=SOURCE_VOCABULARY,
        target_vocabulary=TARGET_VOCABULARY,
        lengths_fn=lengths,
    )
)
"""The registered :class:`TaskSpec` of this task."""
