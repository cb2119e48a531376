"""Every code block of the documentation runs: on each Keras backend for the
backends page, once (on PyTorch) for the others.

The ```python and ```bash blocks of each page (`docs/*.md` and `README.md`)
run in the order they appear, in one Python namespace per page, in a fresh
temporary working folder, so the files they write land there.

- ```python blocks are executed as written. A block that sets
  `os.environ["KERAS_BACKEND"]` changes nothing here (Keras is already
  imported); the environment is restored after each page.
- ```bash blocks run line by line (a trailing backslash continues a line),
  each command with bash in its own process, as a user's shell runs them:
  `keras-pix2pix train` then `keras-pix2pix synthesize` share no imports or
  registered classes. A `KERAS_BACKEND=name` prefix or a `--backend name`
  argument is replaced by the current backend: the blocks are the same on
  every backend, and CI installs one backend per session.

A block that cannot run here (it installs packages, or needs the IXI download)
is marked in the markdown, on the line just before its fence:

    <!-- skip: needs the IXI download -->

It is then not run, and `test_skipped_block` reports it (with its reason) as
a skipped test, so `pytest -rs` lists every block that is not checked.
"""

import dataclasses
import os
import pathlib
import re
import shlex
import subprocess
import sys

import keras
import pytest
from marks import once

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BACKEND = keras.backend.backend()

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[ \t]*$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")
_RUN = ("python", "bash")


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced code block of a markdown page."""

    page: pathlib.Path
    line: int  # 1-based line of the first code line
    language: str
    code: str
    skip: str | None  # the reason given by a `<!-- skip: ... -->` marker

    @property
    def name(self):
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract_blocks(page):
    """The fenced code blocks of a markdown file, in order.

    Fences may be indented (blocks inside list items); the indentation is
    removed from the code.
    """
    lines = pathlib.Path(page).read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening or not opening["language"]:
            index += 1
            continue
        indent = opening["indent"]
        previous = next((text for text in reversed(lines[:index]) if text.strip()), "")
        marker = _SKIP.match(previous)
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{page}:{index + 1}: unclosed code fence")
        code = "\n".join(
            text[len(indent) :] if text.startswith(indent) else text.lstrip()
            for text in lines[index + 1 : end]
        )
        blocks.append(
            Block(
                page=pathlib.Path(page),
                line=index + 2,
                language=opening["language"],
                code=code,
                skip=marker["reason"] if marker else None,
            )
        )
        index = end + 1
    return blocks


def _shell_commands(code):
    """The commands of a bash block, with backslash continuations joined."""
    commands, parts = [], []
    for text in code.splitlines():
        text = text.strip()
        if text.endswith("\\"):
            parts.append(text[:-1].strip())
            continue
        command = " ".join([*parts, text]).strip()
        if command:
            commands.append(command)
        parts = []
    return commands


def _on_current_backend(command):
    """Replaces the backend named by `KERAS_BACKEND=` or `--backend`."""
    command = re.sub(r"\bKERAS_BACKEND=\w+", f"KERAS_BACKEND={BACKEND}", command)
    return re.sub(r"--backend(=|\s+)\w+", f"--backend\\g<1>{BACKEND}", command)


def run_bash_block(block):
    for command in _shell_commands(block.code):
        command = _on_current_backend(command)
        if not shlex.split(command, comments=True):
            continue
        env = {**os.environ, "KERAS_BACKEND": BACKEND}
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env["PATH"]])
        result = subprocess.run(
            ["bash", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (
            f"{block.name}: `{command}` exited with {result.returncode}\n"
            f"{result.stdout}\n{result.stderr}"
        )


def run_python_block(block, namespace):
    # Pad with blank lines so that tracebacks give the line in the page.
    source = "\n" * (block.line - 1) + block.code
    exec(compile(source, str(block.page), "exec"), namespace)


ALL_BLOCKS = [block for page in PAGES for block in extract_blocks(page)]
RUN_PAGES = sorted(
    {b.page for b in ALL_BLOCKS if b.language in _RUN and b.skip is None},
    key=PAGES.index,
)


# Pages whose code is about the backends run on each; the others use the
# library's public API, whose behaviour on each backend the library's own tests
# cover, and run once (`marks.once`), which keeps the CI run within its time.
EVERY_BACKEND = {"backends.md"}


@pytest.mark.parametrize(
    "page",
    [
        page if page.name in EVERY_BACKEND else pytest.param(page, marks=once)
        for page in RUN_PAGES
    ],
    ids=lambda page: page.name,
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environment = dict(os.environ)
    namespace = {"__name__": "__main__"}
    try:
        for block in extract_blocks(page):
            if block.skip is not None or block.language not in _RUN:
                continue
            if block.language == "python":
                run_python_block(block, namespace)
            else:
                run_bash_block(block)
    finally:
        os.environ.clear()
        os.environ.update(environment)


@pytest.mark.parametrize(
    "block",
    [b for b in ALL_BLOCKS if b.skip is not None],
    ids=lambda block: block.name,
)
def test_skipped_block(block):
    pytest.skip(f"{block.name} ({block.language}) not run: {block.skip}")


def test_every_block_is_python_or_bash():
    """Other languages would silently go unchecked."""
    others = [b.name for b in ALL_BLOCKS if b.language not in _RUN]
    assert not others, f"code blocks that are neither python nor bash: {others}"


def test_extract_blocks_reads_markers_and_indented_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n```python\nx = 1\n```\n\n1. A step:\n\n"
        "   <!-- skip: needs the IXI download -->\n   ```bash\n"
        "   tar -xf IXI-T1.tar \\\n       -C data\n   ```\n"
    )
    first, second = extract_blocks(page)
    assert (first.language, first.code, first.line, first.skip) == (
        "python",
        "x = 1",
        4,
        None,
    )
    assert second.language == "bash"
    assert second.skip == "needs the IXI download"
    assert _shell_commands(second.code) == ["tar -xf IXI-T1.tar -C data"]
