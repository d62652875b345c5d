"""Reading a table's timestamps without guessing (docs/cutoffs.md).

A timestamp column is read as declared: a ``strftime`` format (``<key>_format``) or the unit of
integer epochs (``<key>_unit``). Without a declaration, ISO dates and other unambiguous text are
read as they are, and three kinds of values are *problems*, never guesses:

* dates that read both day-first and month-first (``01.05.2024`` or ``01 05 2024``: 1 May or 5
  January?), and dates of three two-digit numbers (``24-05-01``: is the year first or last?);
* integer epochs (``1714557600``: seconds, milliseconds, ...?);
* times with a UTC offset (``+02:00``, ``Z``) mixed with times without one (local? UTC?);
* dates outside what a timestamp holds (after 2262-04-11: ``9999-12-31`` placeholders);
* missing timestamps in a table whose rows need one (transactions, events).

Each problem names the table, the column, examples and the config key that fixes it.

Example
-------
>>> import pandas as pd
>>> values, problems = parse_timestamps(pd.Series(["01.05.2024", "13.05.2024"]), table="events",
...                                     column="ts", key="data.events.timestamp")
>>> values is None, problems[0].message.split(";")[0]
(True, "1 timestamp(s) read both day-first and month-first, e.g. '01.05.2024'")
>>> values, _ = parse_timestamps(pd.Series(["01.05.2024"]), table="events", column="ts",
...                              key="data.events.timestamp", fmt="%d.%m.%Y")
>>> str(values[0].date())
'2024-05-01'
"""

from __future__ import annotations

import pandas as pd

from segml.errors import Problem

_DAY_MONTH = r"^\s*(\d{1,2})([./ -])(\d{1,2})\2(\d{2,4})(?:[ T](\d{1,2}:\d{2}(:\d{2})?))?"
#: Three two-digit numbers (``24-05-01``): the year may be first or last.
_SHORT_YEAR = r"^\s*\d{2}([./ -])\d{2}\1\d{2}(?:$|[ T])"
#: A time followed by a UTC offset or ``Z`` (``10:00+02:00``, ``10:00:00Z``).
_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"
#: A time without one.
_NAIVE_TIME = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*$"
_EPOCH = r"^\s*[+-]?\d{9,}(\.\d*)?\s*$"
#: Orders and events before this are almost always epochs read in the wrong unit (an epoch in
#: seconds read as nanoseconds is 1970-01-01 00:00:01.7).
EARLIEST_EVENT = pd.Timestamp("1971-01-01")


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(n).tolist())


def _suggest_format(sample: pd.Series, day_first: bool | None) -> str:
    """A format matching the day/month values in ``sample`` (``%d.%m.%Y %H:%M``)."""
    parts = sample.str.extract(_DAY_MONTH).iloc[0]
    sep = parts[1]
    year = "%Y" if len(str(parts[3])) == 4 else "%y"
    time = "" if pd.isna(parts[4]) else (" %H:%M:%S" if not pd.isna(parts[5]) else " %H:%M")
    day, month = f"%d{sep}%m{sep}{year}{time}", f"%m{sep}%d{sep}{year}{time}"
    if day_first is True:
        return f"'{day}' (the values are day-first)"
    if day_first is False:
        return f"'{month}' (the values are month-first)"
    return f"'{day}' (day first) or '{month}' (month first)"


def _ambiguous(text: pd.Series, key: str) -> str | None:
    """A problem message when some dates read both day-first and month-first, else None."""
    candidates = text[text.str.match(_DAY_MONTH, na=False)]
    if candidates.empty:
        return None
    parts = candidates.str.extract(_DAY_MONTH)
    first, second = parts[0].astype(int), parts[2].astype(int)
    both = (first <= 12) & (second <= 12) & (first != second)
    if not both.any():
        return None
    day_first = True if (first > 12).any() else False if (second > 12).any() else None
    return (f"{int(both.sum())} timestamp(s) read both day-first and month-first, e.g. "
            f"{_examples(candidates[both])}; set {key}_format to "
            f"{_suggest_format(candidates[both], day_first)}")


def _short_year(text: pd.Series, key: str) -> str | None:
    """A problem message when dates are three two-digit numbers (year first or last?)."""
    short = text.str.match(_SHORT_YEAR, na=False)
    if not short.any():
        return None
    return (f"{int(short.sum())} timestamp(s) of three two-digit numbers, e.g. "
            f"{_examples(text[short])}: the year may be first or last; set {key}_format "
            "(e.g. '%y-%m-%d' or '%d-%m-%y')")


def _mixed_offsets(text: pd.Series, key: str) -> str | None:
    """A problem message when some times carry a UTC offset and others do not."""
    offset = text.str.contains(_OFFSET, na=False, regex=True)
    if not offset.any():
        return None
    naive = ~offset & text.str.contains(_NAIVE_TIME, na=False, regex=True)
    if not naive.any():
        return None
    return (f"{int(offset.sum())} timestamp(s) with a UTC offset (e.g. {_examples(text[offset], 1)}) "
            f"and {int(naive.sum())} without (e.g. {_examples(text[naive], 1)}): the ones without "
            "would be read as UTC; give every value an offset, or none (segml reads "
            f"offset-free times as UTC), or set {key}_format")


def parse_timestamps(
    raw: pd.Series,
    *,
    table: str,
    column: str,
    key: str,
    file: str | None = None,
    fmt: str | None = None,
    unit: str | None = None,
    required: bool = True,
    earliest: pd.Timestamp | None = EARLIEST_EVENT,
) -> tuple[pd.Series | None, list[Problem]]:
    """Naive-UTC ``datetime64[ns]`` values of ``raw``, or None with the problems found.

    Parameters
    ----------
    raw : Series
        The column as read (text, numbers or datetimes).
    table, column, file :
        Where the values come from (named in every problem).
    key : str
        The config key of the column (``data.transactions.timestamp``); ``<key>_format`` and
        ``<key>_unit`` are the keys that declare how to read it.
    fmt, unit : str, optional
        The declared ``strftime`` format, or the unit of integer epochs.
    required : bool
        Whether a missing value is a problem (a transaction needs a time; a signup date may be
        unknown).
    earliest : Timestamp, optional
        Values before this are a problem (epochs read in the wrong unit land in 1970).
    """
    problems: list[Problem] = []

    def error(message: str) -> None:
        problems.append(Problem(message, "error", file, table, column))

    text: pd.Series | None = None
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_bool_dtype(raw):
        error(f"holds true/false values, not timestamps, e.g. {_examples(raw.dropna())}")
        return None, problems
    elif pd.api.types.is_numeric_dtype(raw):
        if unit is None:
            error(f"{int(raw.notna().sum())} integer timestamp(s) (epochs?), e.g. "
                  f"{_examples(raw.dropna())}; set {key}_unit to s, ms, us or ns")
            return None, problems
        parsed = pd.to_datetime(raw, unit=unit, errors="coerce")
    else:
        text = raw.astype("string").str.strip()
        if unit is not None:
            parsed = pd.to_datetime(pd.to_numeric(text, errors="coerce"), unit=unit,
                                    errors="coerce")
        elif fmt is not None:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
        else:
            epochs = text.str.match(_EPOCH, na=False)
            if epochs.any():
                error(f"{int(epochs.sum())} integer timestamp(s) (epochs?), e.g. "
                      f"{_examples(raw[epochs])}; set {key}_unit to s, ms, us or ns")
                return None, problems
            ambiguous = _ambiguous(text, key) or _short_year(text, key) or _mixed_offsets(text, key)
            if ambiguous:
                error(ambiguous)
                return None, problems
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
    present = raw.notna() if text is None else text.notna() & (text != "")
    bad = parsed.isna() & present
    if bad.any():
        how = (f" with {key}_format {fmt!r}" if fmt else f" as epochs in {unit}" if unit else "")
        error(f"{int(bad.sum())} unparseable timestamp(s){how}, e.g. {_examples(raw[bad])}")
        return None, problems
    missing = parsed.isna()
    if required and missing.any():
        rows = ", ".join(str(i) for i in missing[missing].index[:3])
        error(f"{int(missing.sum())} missing timestamp(s) (rows {rows}); every row needs one: "
              "drop those rows or fill them in")
        return None, problems
    beyond = (parsed > pd.Timestamp.max) | (parsed < pd.Timestamp.min)
    if beyond.any():  # datetime64[us] from Parquet or text holds them; nanoseconds do not
        error(f"{int(beyond.sum())} timestamp(s) outside {pd.Timestamp.min.date()} to "
              f"{pd.Timestamp.max.date()}, e.g. {_examples(raw[beyond])} (a placeholder date "
              "such as 9999-12-31?); drop those rows or set the dates")
        return None, problems
    parsed = parsed.astype("datetime64[ns]")
    early = parsed < earliest if earliest is not None else pd.Series(False, index=parsed.index)
    if early.any():
        error(f"{int(early.sum())} timestamp(s) before {earliest.date()}, e.g. "
              f"{_examples(parsed[early].astype('string'))} (epochs read in the wrong unit?"
              + (f" check {key}_unit)" if unit else ")"))
        return None, problems
    return parsed, problems
