"""Every cached function of the dashboard says what it is doing (or nothing), never its own name.

Streamlit's default spinner for st.cache_data/st.cache_resource is "Running <function>(...)."
"""

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[3] / "services" / "dashboard" / "piano_dashboard"
CACHES = {"cache_data", "cache_resource"}


def cached_functions() -> list[tuple[str, ast.expr]]:
    found = []
    for path in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Attribute) and target.attr in CACHES:
                        found.append((f"{path.name}:{node.name}", decorator))
    return found


@pytest.mark.parametrize(("where", "decorator"), cached_functions(), ids=lambda value: str(value))
def test_a_cached_function_sets_its_spinner(where: str, decorator: ast.expr) -> None:
    keywords = {k.arg: k.value for k in decorator.keywords} if isinstance(decorator, ast.Call) else {}
    spinner = keywords.get("show_spinner")
    assert isinstance(spinner, ast.Constant), f"{where}: show_spinner= a message or False"
    assert spinner.value is False or isinstance(spinner.value, str)


def test_the_dashboard_has_cached_functions() -> None:
    assert len(cached_functions()) >= 5
