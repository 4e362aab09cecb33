"""The documentation: every public layer has a page, and its code runs."""

import pathlib
import re

import pytest

import keras_seqmem

PAGES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "pages"


def _python_blocks():
    for page in sorted(PAGES.glob("*.md")):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
        for i, block in enumerate(blocks):
            yield pytest.param(block, id=f"{page.stem}-{i}")


@pytest.mark.parametrize("code", list(_python_blocks()))
def test_docs_code_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})


# Not "seq2_seq", "mem_n2_n"; LinearStart is a part of the MemN2N page.
PAGE_NAMES = {"Seq2Seq": "seq2seq", "MemN2N": "memn2n", "LinearStart": "memn2n",
              "ACTRNN": "act"}


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
