import contextlib
import os
import pathlib
import uuid


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path that replaces `path` only if the block succeeds.

    The temporary file lives in the same folder (so the final `os.replace`
    is atomic on POSIX and Windows) and keeps the suffix of `path` (so
    writers that pick a format from the extension still work). A reader of
    `path` sees either the old file or the complete new one, never a partial
    write; if the block raises, or the process dies, the old file is intact
    and the temporary file is removed (or, after a kill, left under a name
    starting with `.` and containing `.tmp-`, which no reader trusts).

    Args:
        path: str or `pathlib.Path`. The file to write.

    Yields:
        `pathlib.Path` of the temporary file to write to.

    Raises:
        OSError: naming the folder, if it does not exist or is not writable.

    Example:
    ```python
    with atomic_path("model.keras") as temporary:
        model.save(temporary)
    ```
    """
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise OSError(
            f"Cannot write {path.name!r}: the folder {path.parent} does not exist."
        )
    if not os.access(path.parent, os.W_OK):
        raise OSError(
            f"Cannot write {path.name!r}: the folder {path.parent} is not writable."
        )
    temporary = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
