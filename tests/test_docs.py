"""The documentation: every public layer has a page, and its code runs."""

import contextlib
import doctest
import io
import pathlib
import re

import pytest

import keras_seqmem

PAGES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "pages"


# A ```python block of a page that prints is followed (blank lines only in
# between) by a ```text block showing exactly what it prints; `...` there
# matches any text (doctest's ELLIPSIS: only for what a training run or the
# data found decides) and runs of whitespace compare equal. No output is
# shown as a comment in the code (`# (2, 8)`), where nothing compares it.
# docs/pages/testing.md, "The docs' code blocks".
_BLOCK = re.compile(
    r"```python\n(?P<code>.*?)```[ \t]*\n(?:[ \t]*\n)*"
    r"(?:```text\n(?P<output>.*?)```)?", re.S)
# A comment that shows a value: a shape, a list of numbers, True/False or a
# number, alone (e.g. `print(x.shape)  # (2, 8)`).
_VALUE = (r"(\(\s*\d+\s*(,\s*\d+\s*)*,?\s*\)|\[[-\d.,\s]*\]|True|False"
          r"|-?\d+(\.\d+)?)")
_OUTPUT_COMMENT = re.compile(
    rf"#\s*{_VALUE}(\s*[,;]?\s*{_VALUE})*\s*([,;].*)?$")
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def code_blocks(text):
    """`[(code, shown output or None), ...]` of a page's text."""
    return [(m["code"], m["output"]) for m in _BLOCK.finditer(text)]


def _python_blocks():
    for page in sorted(PAGES.glob("*.md")):
        for i, (code, output) in enumerate(code_blocks(page.read_text())):
            yield pytest.param(code, output, id=f"{page.stem}-{i}")


def output_comments(code):
    """The lines of `code` that show output as a comment."""
    return [line for line in code.splitlines() if "#" in line
            and _OUTPUT_COMMENT.match("#" + line.split("#", 1)[1])]


def check_block_output(code, shown, printed):
    """Raises AssertionError unless `printed` is what the page shows."""
    if shown is None:
        assert not printed, (
            "the block prints but the page shows no output: add a ```text "
            f"block after it holding:\n{printed}")
        return
    assert printed, "the page shows output but the block prints nothing"
    if not _CHECKER.check_output(shown, printed, _FLAGS):
        raise AssertionError(_CHECKER.output_difference(
            doctest.Example(code, shown), printed, _FLAGS))


@pytest.mark.parametrize("code, shown", list(_python_blocks()))
def test_docs_code_runs_and_prints_what_the_page_shows(
        code, shown, tmp_path, monkeypatch):
    assert not output_comments(code), (
        "output shown as a comment (show it in a ```text block): "
        f"{output_comments(code)}")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})
    check_block_output(code, shown, printed.getvalue())


def test_block_output_check_can_fail():
    """The comparison itself: a wrong shape, a missing or extra line, an
    output comment, a printing block without output, all fail."""
    page = ("```python\nprint((2, 8))\n```\n\n```text\n(2, 8)\n```\n"
            "text\n```python\nx = 1\n```\n")
    (code, shown), (quiet, nothing) = code_blocks(page)
    assert shown == "(2, 8)\n" and nothing is None
    check_block_output(code, shown, "(2, 8)\n")
    check_block_output(quiet, nothing, "")
    check_block_output(code, "loss ...\n(2,  8)\n", "loss 0.25\n(2, 8)\n")
    for printed in ("(2, 9)\n", "(2, 8)\n(2, 8)\n", ""):
        with pytest.raises(AssertionError):
            check_block_output(code, shown, printed)
    with pytest.raises(AssertionError, match="no output"):
        check_block_output(quiet, None, "(2, 8)\n")
    for line in ("print(x.shape)  # (2, 8)", "print(ok)  # True",
                 "print(a.shape, b.shape)  # (2, 7, 56) (2, 7, 5)",
                 "print(a.shape)  # (2, 3); zeros where masked",
                 "print(a)  # [0. 0.]", "y = f(x)  # (2, 5, 16)"):
        assert output_comments(line) == [line], line
    for line in ("print(x)  # the spread, from 1 to 100",
                 "rng = f()  # 64 stories of 10 sentences",
                 "print(k.shape)  # (batch, T_v, units)", "print('#')"):
        assert output_comments(line) == [], line


# Not "seq2_seq", "mem_n2_n"; LinearStart is a part of the MemN2N page.
PAGE_NAMES = {"Seq2Seq": "seq2seq", "MemN2N": "memn2n", "LinearStart": "memn2n",
              "ACTRNN": "act",
              "BahdanauMonotonicAttention": "monotonic_attention",
              "LuongMonotonicAttention": "monotonic_attention",
              "KerasAttentionAdapter": "attentive_decoder",
              "LayerNormLSTM": "layer_norm_rnn",
              "LayerNormLSTMCell": "layer_norm_rnn",
              "LayerNormSimpleRNN": "layer_norm_rnn",
              "LayerNormSimpleRNNCell": "layer_norm_rnn"}


def _page_for(name):
    """LeakyRNNCell -> leaky_rnn.md, PeepholeLSTM -> peephole_lstm.md."""
    if name in PAGE_NAMES:
        return PAGES / f"{PAGE_NAMES[name]}.md"
    base = name[:-4] if name.endswith("Cell") else name
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_",
                   base).lower()
    return PAGES / f"{snake}.md"


@pytest.mark.parametrize("name", keras_seqmem.__all__)
def test_every_public_layer_has_a_page(name):
    page = _page_for(name)
    assert page.exists(), f"{name} has no page {page.name}"
    text = page.read_text()
    assert f"`{name}`" in text or f"# {name}" in text or name in text
    for section in ("## Equations", "## Example", "## Figures",
                    "## Replaces"):
        assert section in text, f"{page.name} lacks {section}"


def test_pages_are_in_the_site_and_images_exist():
    config = (PAGES.parent / "mkdocs.yml").read_text()
    for page in PAGES.glob("*.md"):
        assert page.name in config, f"{page.name} missing from mkdocs nav"
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (PAGES / image).exists(), f"{page.name}: {image} missing"
