"""The exceptions keras-pix2pix raises for bad input.

Every one derives from `Pix2PixError` and from the built-in exception a caller
would expect (`ValueError`, `FileNotFoundError`, `OSError`), so both
`except keras_pix2pix.errors.Pix2PixError` and `except ValueError` catch them.
Messages name the file or argument at fault and say what was expected.
"""


class Pix2PixError(Exception):
    """Base class of the errors of keras-pix2pix."""


class DataError(Pix2PixError, ValueError):
    """Input data (an array, an image or a volume) is not what was expected."""


class ImageFileError(DataError):
    """An image or volume file cannot be read, or its content is unusable
    (truncated, wrong format, wrong number of dimensions, NaN or inf)."""


class ImageTooLargeError(ImageFileError):
    """An image or volume file would need more memory than the limit: a NIfTI
    header past `nifti.MAX_VOLUME_BYTES` (or `max_bytes`), or an image past
    Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`). It is
    refused before its pixels are read."""


class DatasetNotFoundError(Pix2PixError, FileNotFoundError):
    """A dataset's files are not where the caller said they would be."""


class CheckpointError(Pix2PixError, OSError):
    """A checkpoint cannot be written (disk full, folder not writable).

    The previous checkpoint and `latest.json` are left as they were. `errno`
    is that of the underlying `OSError` (e.g. `errno.ENOSPC`).
    """
