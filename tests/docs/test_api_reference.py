"""docs/api.md documents every public name of the package.

The public names are `keras_pix2pix.__all__` and, for each of its
sub-modules, that module's `__all__`, or (for a module without one) the
classes and functions it defines whose names do not start with `_`.

A name is documented when a `::: path` directive of docs/api.md (rendered by
mkdocstrings) names the object itself, or names a module that mkdocstrings
renders it with: a module listing it in `__all__`, or, for a module without
`__all__`, the module defining it.
"""

import importlib
import inspect
import pathlib
import re

import keras_pix2pix

API_PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "api.md"
_DIRECTIVE = re.compile(r"^:::\s+(\S+)\s*$", re.MULTILINE)


def public_names(module):
    """`{name: object}` of a module's public API."""
    if hasattr(module, "__all__"):
        return {name: getattr(module, name) for name in module.__all__}
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


def resolve(path):
    """The object a dotted path names, importing modules as needed."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(path)


def rendered_by(directive, name, value):
    """Whether the `::: directive` block documents `value`, public as `name`."""
    target = resolve(directive)
    if target is value:
        return True
    if not inspect.ismodule(target):
        return False
    if hasattr(target, "__all__"):
        return name in target.__all__ and getattr(target, name) is value
    return (
        getattr(value, "__module__", None) == target.__name__
        and getattr(target, name, None) is value
        and not name.startswith("_")
    )


def test_every_directive_resolves():
    directives = _DIRECTIVE.findall(API_PAGE.read_text())
    assert directives
    for directive in directives:
        resolve(directive)  # raises if the path names nothing


def test_every_public_name_is_in_the_api_reference():
    text = API_PAGE.read_text()
    directives = _DIRECTIVE.findall(text)
    expected = {}
    for name in keras_pix2pix.__all__:
        value = getattr(keras_pix2pix, name)
        if inspect.ismodule(value):
            for member, member_value in public_names(value).items():
                expected[f"keras_pix2pix.{name}.{member}"] = (member, member_value)
        elif name != "__version__":
            expected[f"keras_pix2pix.{name}"] = (name, value)
    assert "keras_pix2pix.datasets.load_ixi_pairs" in expected
    missing = [
        path
        for path, (name, value) in expected.items()
        if not any(rendered_by(d, name, value) for d in directives)
    ]
    assert not missing, f"public names missing from docs/api.md: {missing}"
    assert "`keras_pix2pix.__version__`" in text


def test_a_missing_name_is_detected():
    from keras_pix2pix.datasets import load_ixi_pairs

    assert rendered_by("keras_pix2pix.datasets.ixi", "load_ixi_pairs", load_ixi_pairs)
    assert rendered_by("keras_pix2pix.datasets", "load_ixi_pairs", load_ixi_pairs)
    assert not rendered_by(
        "keras_pix2pix.datasets.nifti", "load_ixi_pairs", load_ixi_pairs
    )
