"""Import a module from a file outside any package (scripts/, scripts/bench/): ``load_script(path)``."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """The module in ``path``, registered in sys.modules as ``name`` (default: the file's stem), so
    dataclasses can find it and sibling scripts that import it by that name get this copy."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module
