"""The user's variables, described: runs inside the kernel (its source is sent there).

Standard library only, and nothing imported at module level but what the function
needs, because ``KernelAccess`` implementations execute this file's source in the
user's kernel and call ``describe_variables(globals())``.
"""

import contextlib
import json
import types

#: Names IPython puts in the user namespace (its own, not the user's).
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})
REPR_LIMIT = 120
MAX_VARIABLES = 500


def describe_variables(namespace, hidden=()):
    """``[{"name", "type", "shape"?, "len"?, "dtype"?, "repr"}]`` sorted by name.

    Modules, imported functions, classes, IPython's names (and ``hidden`` ones, IPython's
    ``user_ns_hidden``) and names starting with an underscore are left out.
    """
    found = []
    for name in sorted(namespace):
        if name.startswith("_") or name in IPYTHON_NAMES or name in hidden:
            continue
        value = namespace[name]
        if isinstance(value, (types.ModuleType, type)) or _foreign_callable(value):
            continue
        found.append(_describe(name, value))
        if len(found) >= MAX_VARIABLES:
            break
    return found


def _foreign_callable(value):
    """Imported functions (``from math import sqrt``) are not the user's variables."""
    if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        return True
    return isinstance(value, types.FunctionType) and value.__module__ != "__main__"


def _describe(name, value):
    item = {"name": name, "type": _type_name(value)}
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        item["shape"] = list(shape)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not callable(dtype):
        item["dtype"] = str(dtype)
    elif hasattr(value, "dtypes") and hasattr(value, "columns"):  # a DataFrame
        item["dtype"] = ", ".join(sorted({str(d) for d in value.dtypes})[:5])
    if "shape" not in item:
        with contextlib.suppress(Exception):  # any object may raise anything from __len__
            item["len"] = len(value)
    item["repr"] = _short_repr(value)
    return item


def _type_name(value):
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


def _short_repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a user's __repr__ may raise anything
        return f"<repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 1] + "…"


def describe_variables_json(namespace, hidden=()):
    """``describe_variables`` as JSON text (what a kernel sends back)."""
    return json.dumps(describe_variables(namespace, hidden), default=str)
