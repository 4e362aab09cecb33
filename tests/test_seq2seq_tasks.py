"""Tests of the sequence-to-sequence tasks (dates, reversal) and of the
seq2seq conventions of keras_seqmem.tasks.base.

Labels are verified, not copied: date sources are re-parsed by an independent
plain-Python parser (own month/weekday tables, regexes, ``strptime``) and
compared with ``datetime.date.fromisoformat`` of the target; reversal targets
are compared with ``reversed`` of the source.
"""

import datetime
import re

import numpy as np
import pytest

from keras_seqmem import tasks
from keras_seqmem.tasks import (
    END_ID,
    PAD_ID,
    START_ID,
    TASKS,
    TaskSpec,
    decode,
    decoder_inputs,
    encode,
    exact_match,
    get_task,
    make_dataset,
)
from keras_seqmem.tasks import dates, reversal

# --------------------------------------------------------------------------
# Independent reference: a date parser written from scratch.
# --------------------------------------------------------------------------

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5,
    "june": 6, "july": 7, "august": 8, "september": 9, "october": 10,
    "november": 11, "december": 12,
}
_MON3 = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7,
    "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}
# Associated Press style: short forms with a dot, March..July in full.
_AP = {
    "Jan.": 1, "Feb.": 2, "March": 3, "April": 4, "May": 5, "June": 6,
    "July": 7, "Aug.": 8, "Sept.": 9, "Oct.": 10, "Nov.": 11, "Dec.": 12,
}
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
             "Saturday", "Sunday"]
_WKD3 = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_SUFFIX = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}

_FULL = "(?P<month>" + "|".join(m.capitalize() for m in _MONTHS) + ")"
_D = r"(?P<d>[1-9]\d?)"      # day without leading zero
_DD = r"(?P<dd>\d{2})"       # zero-padded day
_Y = r"(?P<y>\d{4})"
_ORD = r"(?P<d>[1-9]\d?)(?P<suf>st|nd|rd|th)"

_PATTERNS = {
    "iso": r"(?P<y>\d{4})-(?P<mm>\d{2})-(?P<dd>\d{2})",
    "d_month_yyyy": _D + " " + _FULL + " " + _Y,
    "dd_month_yyyy": _DD + " " + _FULL + " " + _Y,
    "month_d_yyyy": _FULL + " " + _D + ", " + _Y,
    "weekday_month_d_yyyy": "(?P<weekday>" + "|".join(_WEEKDAYS) + "), "
    + _FULL + " " + _D + ", " + _Y,
    "wkd_d_mon_yyyy": "(?P<wkd>" + "|".join(_WKD3) + ") " + _D
    + " (?P<mon>" + "|".join(_MON3) + ") " + _Y,
    "mm_dd_yyyy_slash": r"(?P<mm>\d{2})/(?P<dd>\d{2})/(?P<y>\d{4})",
    "mm_dd_yy_slash": r"(?P<mm>\d{2})/(?P<dd>\d{2})/(?P<yy>\d{2})",
    "d_m_yyyy_dot": r"(?P<d>[1-9]\d?)\.(?P<m>[1-9]\d?)\.(?P<y>\d{4})",
    "dd_mm_yyyy_dot": r"(?P<dd>\d{2})\.(?P<mm>\d{2})\.(?P<y>\d{4})",
    "yyyy_month_dth": _Y + " " + _FULL + " " + _ORD,
    "dth_of_month_yyyy": _ORD + " of " + _FULL + " " + _Y,
    "upper_month_d_yyyy": "(?P<upper>" + "|".join(m.upper() for m in _MONTHS)
    + ") " + _D + " " + _Y,
    "lower_d_month_yyyy": _D + " (?P<lower>" + "|".join(_MONTHS) + ") " + _Y,
    "d_mon_yyyy": _D + " (?P<mon>" + "|".join(_MON3) + ") " + _Y,
    "ap_mon_d_yyyy": "(?P<ap>" + "|".join(re.escape(m) for m in _AP) + ") "
    + _D + ", " + _Y,
}


def _parse_with(name, text):
    """Date written by format ``name``, or None if it does not match."""
    match = re.fullmatch(_PATTERNS[name], text)
    if match is None:
        return None
    g = match.groupdict()
    if name == "mm_dd_yy_slash":
        # strptime's %y: POSIX pivot, 69..99 -> 19xx, 00..68 -> 20xx.
        return datetime.datetime.strptime(text, "%m/%d/%y").date()
    if name == "iso":
        return datetime.datetime.strptime(text, "%Y-%m-%d").date()
    day = int(g.get("d") or g["dd"])
    if g.get("month"):
        month = _MONTHS[g["month"].lower()]
    elif g.get("upper"):
        month = _MONTHS[g["upper"].lower()]
    elif g.get("lower"):
        month = _MONTHS[g["lower"]]
    elif g.get("mon"):
        month = _MON3[g["mon"]]
    elif g.get("ap"):
        month = _AP[g["ap"]]
    else:
        month = int(g.get("m") or g["mm"])
    date = datetime.date(int(g["y"]), month, day)  # Raises if impossible.
    if g.get("suf"):
        assert g["suf"] == _SUFFIX.get(day, "th"), text
    if g.get("weekday"):
        assert g["weekday"] == _WEEKDAYS[date.weekday()], text
    if g.get("wkd"):
        assert g["wkd"] == _WKD3[date.weekday()], text
    return date


def _parse(text):
    """(date, matching formats) of a source string; every reading agrees."""
    found = {}
    for name in _PATTERNS:
        date = _parse_with(name, text)
        if date is not None:
            found[name] = date
    assert found, f"no format reads {text!r}"
    assert len(set(found.values())) == 1, (text, found)
    return next(iter(found.values())), set(found)


def _text(ids, vocabulary):
    """Plain decoder: characters up to END, skipping padding."""
    out = []
    for i in ids:
        i = int(i)
        if i == 2:
            break
        if i != 0:
            out.append(vocabulary[i])
    return "".join(out)


# --------------------------------------------------------------------------
# Registry, specs and the shared conventions.
# --------------------------------------------------------------------------


def test_registry_and_specs():
    assert {"brackets", "halves", "adding", "dates", "reversal"} <= set(TASKS)
    assert get_task("dates") is dates.SPEC
    assert get_task("reversal") is reversal.SPEC
    for name in ("dates", "reversal"):
        spec = get_task(name)
        assert spec.kind == "seq2seq" and spec.input == "tokens"
        assert spec.metric_name == "exact_match"
        assert spec.baseline == 0.0
        assert spec.num_features is None
    assert (PAD_ID, START_ID, END_ID) == (0, 1, 2)
    assert tasks.SPECIAL_TOKENS == ("<pad>", "<s>", "</s>")
    for name in ("PAD_ID", "START_ID", "END_ID", "decoder_inputs", "encode",
                 "decode", "exact_match", "dates", "reversal"):
        assert name in tasks.__all__ and hasattr(tasks, name)


def test_dates_vocabularies_and_shapes():
    spec = dates.SPEC
    source_vocab = spec.get_source_vocabulary()
    target_vocab = spec.get_target_vocabulary()
    assert source_vocab[:3] == ("<pad>", "<s>", "</s>")
    assert target_vocab == ("<pad>", "<s>", "</s>") + tuple("0123456789-")
    assert spec.get_target_vocab_size() == 14
    assert spec.get_vocab_size() == len(source_vocab) == spec.vocab_size
    assert set("0123456789 ,./-") <= set(source_vocab)
    assert set("JFMASONDjfmasond") <= set(source_vocab)
    assert len(set(source_vocab)) == len(source_vocab)
    # Longest source: e.g. "Wednesday, September 27, 1979".
    assert spec.input_shape() == (29,)
    assert spec.target_shape() == (11,)
    assert spec.input_shape(formats=("iso",)) == (10,)
    assert spec.input_shape(formats=("d_m_yyyy_dot",)) == (10,)
    assert spec.input_shape(formats=("mm_dd_yy_slash",), min_year=1970,
                            max_year=1980) == (8,)
    assert spec.input_shape(formats=["iso", "mm_dd_yy_slash"]) == (10,)


def test_reversal_vocabularies_and_shapes():
    spec = reversal.SPEC
    assert spec.get_source_vocabulary() == spec.get_target_vocabulary()
    assert spec.get_source_vocabulary(num_symbols=4) == (
        "<pad>", "<s>", "</s>", "a", "b", "c", "d")
    assert spec.get_vocab_size() == 23 and spec.get_target_vocab_size() == 23
    assert spec.get_vocab_size(num_symbols=62) == 65
    assert spec.input_shape() == (20,) and spec.target_shape() == (21,)
    assert spec.input_shape(max_length=7) == (7,)
    assert spec.target_shape(min_length=3, max_length=7) == (8,)


def test_existing_specs_unchanged_by_seq2seq_fields():
    halves = get_task("halves")
    assert halves.get_vocab_size(num_symbols=5) == 6
    assert halves.target_shape(length=10) == (1,)
    assert get_task("adding").input_shape(length=7) == (7, 2)
    with pytest.raises(ValueError, match="halves"):
        halves.get_source_vocabulary()


def test_taskspec_validation_of_seq2seq_specs():
    vocab = ("<pad>", "<s>", "</s>", "x")
    common = dict(name="t", kind="seq2seq", input="tokens", baseline=0.0,
                  metric_name="exact_match", generator=None)
    with pytest.raises(ValueError, match="source_vocabulary"):
        TaskSpec(**common, target_vocabulary=vocab)
    with pytest.raises(ValueError, match="target_vocabulary"):
        TaskSpec(**common, source_vocabulary=vocab)
    with pytest.raises(ValueError, match="tokens"):
        TaskSpec(**{**common, "input": "features"}, num_features=2,
                 source_vocabulary=vocab, target_vocabulary=vocab)
    with pytest.raises(ValueError, match="source_vocabulary"):
        TaskSpec(**common, source_vocabulary=("a", "b", "c", "d"),
                 target_vocabulary=vocab)
    spec = TaskSpec(**common, source_vocabulary=list(vocab),
                    target_vocabulary=vocab)
    assert spec.vocab_size == 4 and spec.source_vocabulary == vocab
    lazy = TaskSpec(**common, defaults={"n": 2},
                    source_vocabulary_fn=lambda n: vocab + tuple(
                        f"s{k}" for k in range(n)),
                    target_vocabulary_fn=lambda n: vocab)
    assert lazy.vocab_size == 6 and lazy.get_vocab_size(n=5) == 9
    assert lazy.get_target_vocab_size() == 4


def test_encode_decode_and_decoder_inputs():
    vocab = dates.TARGET_VOCABULARY
    ids = encode("2000-02-29", vocab, length=12, end=True)
    assert ids.dtype == np.int32 and ids.shape == (12,)
    assert ids[10] == END_ID and (ids[11:] == PAD_ID).all()
    assert decode(ids, vocab) == "2000-02-29"
    assert decode(np.stack([ids, ids]), vocab) == ["2000-02-29"] * 2
    raw = decode(ids, vocab, strip=False)
    assert raw == "2000-02-29</s><pad>"
    # strip: drops START/PAD, stops at the first END.
    assert decode([START_ID, 3, PAD_ID, 4, END_ID, 5], vocab) == "01"
    assert encode(["a", "b"], ("<pad>", "<s>", "</s>", "a", "b")).tolist() == [3, 4]
    with pytest.raises(ValueError, match="x"):
        encode("x", vocab)
    with pytest.raises(ValueError):
        encode("2000-02-29", vocab, length=10, end=True)
    with pytest.raises(ValueError):
        decode([99], vocab)

    target = np.array([[5, 6, END_ID, 0], [7, END_ID, 0, 0]], dtype=np.int32)
    shifted = decoder_inputs(target)
    assert shifted.dtype == np.int32
    assert shifted.tolist() == [[START_ID, 5, 6, END_ID], [START_ID, 7, END_ID, 0]]
    assert decoder_inputs(target[0]).tolist() == [START_ID, 5, 6, END_ID]


def test_exact_match():
    target = np.array([[5, 6, END_ID, 0], [7, END_ID, 0, 0], [8, 9, 9, END_ID]])
    # Anything after the END position is ignored.
    good = np.array([[5, 6, END_ID, 9], [7, END_ID, 4, 4], [8, 9, 9, END_ID]])
    assert exact_match(good, target) == 1.0
    bad = good.copy()
    bad[0, 2] = 0  # missing END
    bad[2, 0] = 3
    assert exact_match(bad, target) == pytest.approx(1 / 3)
    # Too short: padded with PAD, so only the row whose END fits matches.
    assert exact_match(good[:, :2], target) == pytest.approx(1 / 3)
    assert exact_match(np.pad(good, ((0, 0), (0, 3))), target) == 1.0


# --------------------------------------------------------------------------
# Dates.
# --------------------------------------------------------------------------


def test_dates_labels_match_independent_parser():
    source, target = dates.generate(6000, seed=0)
    seen = set()
    for src, tgt in zip(source, target):
        text = _text(src, dates.SOURCE_VOCABULARY)
        iso = _text(tgt, dates.TARGET_VOCABULARY)
        parsed, names = _parse(text)
        assert parsed == datetime.date.fromisoformat(iso), (text, iso)
        assert len(iso) == 10
        seen |= names
    assert seen == set(dates.FORMATS) == set(_PATTERNS)
    assert len(dates.FORMATS) >= 12


def test_dates_every_format_round_trips_edge_dates():
    edges = [datetime.date(2000, 2, 29), datetime.date(1900, 1, 1),
             datetime.date(2099, 12, 31), datetime.date(1969, 1, 1),
             datetime.date(2068, 12, 31), datetime.date(1979, 5, 3),
             datetime.date(1000, 1, 1), datetime.date(9999, 12, 31)]
    edges += [datetime.date(2001, 9, d) for d in range(1, 31)]
    edges += [datetime.date(2001, 1, d) for d in range(1, 32)]
    for name in dates.FORMATS:
        for date in edges:
            if name == "mm_dd_yy_slash" and not 1969 <= date.year <= 2068:
                with pytest.raises(ValueError, match="mm_dd_yy_slash"):
                    dates.format_date(date, name)
                continue
            text = dates.format_date(date, name)
            assert _parse_with(name, text) == date, (name, text)
            assert _parse(text)[0] == date


def test_dates_examples_from_the_docs():
    d = datetime.date(1979, 5, 3)
    expected = {
        "iso": "1979-05-03", "d_month_yyyy": "3 May 1979",
        "dd_month_yyyy": "03 May 1979", "month_d_yyyy": "May 3, 1979",
        "weekday_month_d_yyyy": "Thursday, May 3, 1979",
        "wkd_d_mon_yyyy": "Thu 3 May 1979", "mm_dd_yyyy_slash": "05/03/1979",
        "mm_dd_yy_slash": "05/03/79", "d_m_yyyy_dot": "3.5.1979",
        "dd_mm_yyyy_dot": "03.05.1979", "yyyy_month_dth": "1979 May 3rd",
        "dth_of_month_yyyy": "3rd of May 1979",
        "upper_month_d_yyyy": "MAY 3 1979", "lower_d_month_yyyy": "3 may 1979",
        "d_mon_yyyy": "3 May 1979", "ap_mon_d_yyyy": "May 3, 1979",
    }
    assert {n: dates.format_date(d, n) for n in dates.FORMATS} == expected
    sep = datetime.date(2001, 9, 11)
    assert dates.format_date(sep, "d_mon_yyyy") == "11 Sep 2001"
    assert dates.format_date(sep, "ap_mon_d_yyyy") == "Sept. 11, 2001"
    assert dates.format_date(sep, "dth_of_month_yyyy") == "11th of September 2001"
    ords = [dates.format_date(datetime.date(2001, 1, k), "yyyy_month_dth")
            .split()[-1] for k in range(1, 32)]
    assert ords[:4] == ["1st", "2nd", "3rd", "4th"]
    assert ords[10:13] == ["11th", "12th", "13th"]
    assert ords[20:23] == ["21st", "22nd", "23rd"] and ords[30] == "31st"
    with pytest.raises(ValueError, match="bogus"):
        dates.format_date(d, "bogus")


def test_dates_no_source_string_has_two_targets():
    """Exhaustive over 1900..2099 and every format, plus generated samples."""
    mapping = {}
    date = datetime.date(1900, 1, 1)
    one_day = datetime.timedelta(days=1)
    while date.year <= 2099:
        iso = date.isoformat()
        for name in dates.FORMATS:
            if name == "mm_dd_yy_slash" and not 1969 <= date.year <= 2068:
                continue
            text = dates.format_date(date, name)
            assert mapping.setdefault(text, iso) == iso, (text, iso, mapping[text])
        date += one_day
    assert len(mapping) > 73000 * 10

    # Generated data, several parameter settings, agree with that function.
    for seed, params in [(0, {}), (1, dict(min_year=1960, max_year=1975)),
                         (2, dict(formats=("mm_dd_yy_slash", "iso")))]:
        source, target = dates.generate(20000, seed=seed, **params)
        sources = decode(source, dates.SOURCE_VOCABULARY)
        targets = decode(target, dates.TARGET_VOCABULARY)
        pairs = {}
        for s, t in zip(sources, targets):
            assert pairs.setdefault(s, t) == t
            assert mapping[s] == t
        assert len(pairs) < len(sources) or seed == 0


def test_dates_distribution():
    source, target = dates.generate(20000, seed=3)
    # The static width is the longest possible string, and it occurs.
    assert (source != PAD_ID).sum(axis=1).max() == source.shape[1] == 29
    years = np.array([int(t) for t in
                      decode(target[:, :4], dates.TARGET_VOCABULARY)])
    assert years.min() >= 1900 and years.max() <= 2099
    assert abs(years.mean() - 1999.5) < 2.0
    assert len(np.unique(years)) == 200
    formats = [_parse(s)[1] for s in decode(source[:3200],
                                            dates.SOURCE_VOCABULARY)]
    for name in dates.FORMATS:
        count = sum(name in f for f in formats)
        # ~200 each (more for formats that coincide with others, fewer for
        # the two-digit-year one, used for half of the years).
        assert count > 50, (name, count)
    # Two-digit years only inside the window.
    yy = [s for s in decode(source, dates.SOURCE_VOCABULARY)
          if re.fullmatch(r"\d\d/\d\d/\d\d", s)]
    assert yy
    for s in yy:
        assert 1969 <= datetime.datetime.strptime(s, "%m/%d/%y").year <= 2068


def test_dates_year_and_format_params():
    source, target = dates.generate(500, seed=0, min_year=2000, max_year=2000)
    assert set(decode(target[:, :4], dates.TARGET_VOCABULARY)) == {"2000"}
    source, target = dates.generate(
        300, seed=0, formats=("dth_of_month_yyyy", "d_m_yyyy_dot"))
    kinds = set()
    for s, t in zip(decode(source, dates.SOURCE_VOCABULARY),
                    decode(target, dates.TARGET_VOCABULARY)):
        date, names = _parse(s)
        assert date == datetime.date.fromisoformat(t)
        # ("10.10.1979" also reads as dd_mm_yyyy_dot, to the same date.)
        kinds |= names & {"dth_of_month_yyyy", "d_m_yyyy_dot"}
        assert names & {"dth_of_month_yyyy", "d_m_yyyy_dot"}, s
    assert kinds == {"dth_of_month_yyyy", "d_m_yyyy_dot"}
    assert source.shape == (300, len("22nd of September 2099"))
    # A single format as a string.
    source, _ = dates.generate(10, seed=0, formats="iso")
    assert source.shape == (10, 10)


def test_dates_train_test_overlap_is_small():
    train, _ = dates.generate(20000, seed=0)
    test, _ = dates.generate(2000, seed=1)
    seen = set(map(bytes, train.astype(np.uint8)))
    overlap = np.mean([bytes(row) in seen for row in test.astype(np.uint8)])
    print(f"dates: {overlap:.2%} of seed-1 (n=2000) sources in seed-0 (n=20000)")
    assert overlap < 0.04
    assert f"{overlap:.2%}" in dates.__doc__


# --------------------------------------------------------------------------
# Shared seq2seq properties, both tasks.
# --------------------------------------------------------------------------

_PARAMS = {
    "dates": {},
    "reversal": dict(min_length=2, max_length=9, num_symbols=6),
}


@pytest.mark.parametrize("name", sorted(_PARAMS))
def test_shapes_determinism_and_end_tokens(name):
    spec = get_task(name)
    params = _PARAMS[name]
    source, target = spec.generate(500, seed=4, **params)
    (width,), (target_width,) = spec.input_shape(**params), spec.target_shape(**params)
    assert source.dtype == np.int32 and target.dtype == np.int32
    assert source.shape == (500, width) and target.shape == (500, target_width)
    assert source.max() < spec.get_vocab_size(**params)
    assert target.max() < spec.get_target_vocab_size(**params)
    # Source: real tokens (ids >= 3), then padding only.
    lengths = (source != PAD_ID).sum(axis=1)
    assert lengths.max() <= width and lengths.min() >= 1
    for row, n in zip(source, lengths):
        assert (row[:n] >= 3).all() and (row[n:] == PAD_ID).all()
    # Target: tokens, exactly one END, then padding; no START.
    assert ((target == END_ID).sum(axis=1) == 1).all()
    assert not (target == START_ID).any()
    for row in target:
        end = int(np.argmax(row == END_ID))
        assert end >= 1 and (row[:end] >= 3).all() and (row[end + 1:] == 0).all()

    again = spec.generate(500, seed=4, **params)
    np.testing.assert_array_equal(source, again[0])
    np.testing.assert_array_equal(target, again[1])
    other = spec.generate(500, seed=5, **params)
    assert not np.array_equal(source, other[0])
    for seed in range(6):  # Static shapes, whatever the seed or n.
        s, t = spec.generate(3, seed=seed, **params)
        assert s.shape == (3, width) and t.shape == (3, target_width)


@pytest.mark.parametrize("name", sorted(_PARAMS))
def test_make_dataset_yields_teacher_forcing_batches(name):
    params = _PARAMS[name]
    spec = get_task(name)
    (width,), (target_width,) = spec.input_shape(**params), spec.target_shape(**params)
    ds = make_dataset(name, 70, batch_size=32, seed=2, **params)
    batches = list(ds)
    assert [int(b[1].shape[0]) for b in batches] == [32, 32, 6]
    (src, dec_in), tgt = batches[0]
    assert src.dtype.name == dec_in.dtype.name == tgt.dtype.name == "int32"
    assert tuple(src.shape) == (32, width)
    assert tuple(dec_in.shape) == tuple(tgt.shape) == (32, target_width)
    np.testing.assert_array_equal(dec_in.numpy(), decoder_inputs(tgt.numpy()))
    assert (dec_in.numpy()[:, 0] == START_ID).all()
    # The same examples as generate(), pairs kept together.
    source, target = spec.generate(70, seed=2, **params)
    got = sorted(
        (tuple(s), tuple(t)) for b in batches
        for s, t in zip(b[0][0].numpy().tolist(), b[1].numpy().tolist()))
    assert got == sorted(zip(map(tuple, source.tolist()),
                             map(tuple, target.tolist())))
    plain = make_dataset(name, 70, batch_size=32, seed=2, shuffle=False,
                         **params)
    np.testing.assert_array_equal(
        np.concatenate([b[0][0].numpy() for b in plain]), source)
    rep = make_dataset(name, 10, batch_size=4, repeat=True, **params)
    assert len(list(rep.take(5))) == 5


# --------------------------------------------------------------------------
# Reversal.
# --------------------------------------------------------------------------


def test_reversal_targets_are_reversed_sources():
    source, target = reversal.generate(800, seed=0, min_length=1,
                                       max_length=12, num_symbols=7)
    vocab = reversal.vocabulary(7)
    for src, tgt in zip(source, target):
        symbols = [int(i) for i in src if int(i) != 0]
        expected = list(reversed(symbols)) + [END_ID]
        assert [int(i) for i in tgt[:len(expected)]] == expected
        assert all(int(i) == 0 for i in tgt[len(expected):])
        assert _text(tgt, vocab) == _text(src, vocab)[::-1]
    assert sorted(np.unique(source[source != 0]).tolist()) == list(range(3, 10))
    assert decode(source[:1], vocab)[0][::-1] == decode(target[:1], vocab)[0]


def test_reversal_length_params():
    source, _ = reversal.generate(2000, seed=1, min_length=3, max_length=8)
    lengths = (source != 0).sum(axis=1)
    assert lengths.min() == 3 and lengths.max() == 8
    assert sorted(np.unique(lengths).tolist()) == list(range(3, 9))
    counts = np.bincount(lengths)[3:]
    assert counts.min() > 2000 / 6 * 0.7  # roughly uniform
    source, target = reversal.generate(50, seed=0, min_length=5, max_length=5)
    assert source.shape == (50, 5) and (source != 0).all()
    assert (target[:, 5] == END_ID).all()
    source, _ = reversal.generate(500, seed=0)
    assert source.shape == (500, 20) and (source != 0).sum(axis=1).max() == 20
    assert set(np.unique(source[source != 0]).tolist()) == set(range(3, 23))


# --------------------------------------------------------------------------
# Parameter validation.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, params, bad",
    [
        ("dates", dict(min_year=999), "min_year"),
        ("dates", dict(min_year=1900.5), "min_year"),
        ("dates", dict(max_year=10000), "max_year"),
        ("dates", dict(min_year=2000, max_year=1999), "max_year"),
        ("dates", dict(formats=("bogus",)), "formats"),
        ("dates", dict(formats=()), "formats"),
        ("dates", dict(formats=("iso", "iso")), "formats"),
        ("dates", dict(formats=3), "formats"),
        ("dates", dict(formats=("mm_dd_yy_slash",)), "formats"),
        ("dates", dict(year=2000), "year"),
        ("reversal", dict(min_length=0), "min_length"),
        ("reversal", dict(min_length=5, max_length=4), "max_length"),
        ("reversal", dict(max_length=2.0), "max_length"),
        ("reversal", dict(num_symbols=1), "num_symbols"),
        ("reversal", dict(num_symbols=63), "num_symbols"),
        ("reversal", dict(length=4), "length"),
    ],
)
def test_invalid_params_raise_value_error(name, params, bad):
    spec = get_task(name)
    for call in (lambda: spec.generate(10, seed=0, **params),
                 lambda: spec.input_shape(**params),
                 lambda: make_dataset(name, 10, **params)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert bad in msg and name in msg


def test_two_digit_years_allowed_inside_window():
    source, target = dates.generate(
        200, seed=0, formats=("mm_dd_yy_slash",), min_year=1969, max_year=2068)
    assert source.shape == (200, 8)
    for s, t in zip(decode(source, dates.SOURCE_VOCABULARY),
                    decode(target, dates.TARGET_VOCABULARY)):
        assert datetime.datetime.strptime(s, "%m/%d/%y").date().isoformat() == t


def _python_calls(function):
    """Python function calls (profiler "call" events) that `function()`
    makes: per-example Python work, without a wall-clock time."""
    import sys

    count = [0]

    def profile(frame, event, arg):
        if event == "call":
            count[0] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        function()
    finally:
        sys.setprofile(previous)
    return count[0]


def test_generation_work_per_example_is_bounded():
    """reversal is vectorised (10x the examples, the same calls: 37 ->
    37 measured); dates formats each date in Python with a bounded number
    of calls per example (measured 2.1 between 2,000 and 20,000 dates)."""
    dates.generate(200, seed=0, min_year=1000, max_year=9999)  # (caches)
    small, large = (
        _python_calls(lambda n=n: dates.generate(
            n, seed=0, min_year=1000, max_year=9999))
        for n in (2000, 20000))
    assert 0 < (large - small) / 18000 <= 4, (small, large)
    small, large = (
        _python_calls(lambda n=n: reversal.generate(n, seed=0,
                                                    max_length=200))
        for n in (2000, 20000))
    assert 0 < large <= 1.5 * small, (small, large)
